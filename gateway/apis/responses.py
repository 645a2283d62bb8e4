"""The Responses API (`POST /v1/responses`, OpenRouter's stateless one) as the pipeline sees it: its adapter."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from gateway.apis.adapter import Answer
from gateway.errors import InvalidRequestError, UpstreamError
from gateway.estimate import CHARS_PER_TOKEN, CostEstimate, plan_completion, route_price
from gateway.front import Routed
from gateway.metering.capture import responses_output
from gateway.policy.context import enforce_context
from gateway.policy.policy import Route
from gateway.settlement import Served
from gateway.streaming.merge import StreamMerger
from gateway.streaming.responses import ResponsesStreamTracker, chat_usage
from gateway.upstream.completions import json_object_or_error
from gateway.upstream.reply import UpstreamReply
from gateway.validation import check_output_limit

# Task params that mean the same in the Responses API; chat's max_tokens is max_output_tokens here.
_PARAM_NAMES = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}
_RESPONSES_PARAMS = frozenset({"temperature", "top_p", "reasoning", "max_output_tokens", "tool_choice",
                               "parallel_tool_calls", "text", "provider", "plugins", "metadata"})


def validate_responses_request(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    value = body.get("input")
    if not (isinstance(value, str) and value) and not (isinstance(value, list) and value):
        raise InvalidRequestError("'input' must be a non-empty string or a non-empty array of items.", param="input")
    if body.get("store") is True:
        raise InvalidRequestError(
            "The gateway's Responses API is stateless (OpenRouter stores nothing): set 'store' to false or omit it.",
            param="store",
        )
    if body.get("previous_response_id") is not None:
        raise InvalidRequestError(
            "'previous_response_id' is not supported: the Responses API here is stateless; send the whole "
            "conversation in 'input' instead.", param="previous_response_id",
        )
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequestError("'stream' must be a boolean.", param="stream")
    check_output_limit(body, "max_output_tokens")


def apply_task_params(body: dict[str, Any], route: Route) -> None:
    """Task params that exist in the Responses API fill what the client did not set (pinned ones always win)."""
    for key, value in route.params.items():
        target = _PARAM_NAMES.get(key, key)
        if target not in _RESPONSES_PARAMS:
            continue
        if body.get(target) is not None and key not in route.pinned:
            continue
        body[target] = copy.deepcopy(value)
    body["model"] = route.models[0]


class ResponsesApi:
    endpoint = "responses"
    upstream_path = "/responses"
    cacheable = False

    def validate(self, body: dict[str, Any]) -> None:
        validate_responses_request(body)

    def apply_params(self, body: dict[str, Any], routed: Routed) -> None:
        apply_task_params(body, routed.route)

    def estimate(self, body: dict[str, Any], routed: Routed) -> CostEstimate:
        """Worst case for the reservation; a task's max_cost_usd clamps max_output_tokens as it does max_tokens."""
        enforce_context(body, keys=("max_output_tokens",), models=routed.priced_models, snapshot=routed.snapshot,
                        policy=routed.policy.document.context)
        text = body["input"] if isinstance(body["input"], str) else orjson.dumps(body["input"]).decode()
        prompt = -(-(len(text) + len(str(body.get("instructions") or ""))) // CHARS_PER_TOKEN)
        price = route_price(routed.snapshot, routed.priced_models, routed.org)
        completion = plan_completion(body, keys=("max_output_tokens",), route=routed.route, snapshot=routed.snapshot,
                                     org=routed.org, prompt_tokens=prompt, price=price)
        return CostEstimate(prompt_tokens=prompt, completion_tokens=completion, price=price)

    def record_view(self, body: dict[str, Any]) -> Mapping[str, Any]:
        # One response per request: a client's `n` means nothing here and must not multiply the reservation.
        return {**body, "messages": body["input"], "max_tokens": body.get("max_output_tokens"), "n": 1}

    def shape_upstream(self, body: dict[str, Any], routed: Routed) -> None:
        """The body goes as the client sent it, after the policy's params."""

    def read_answer(self, response: UpstreamReply, estimate: CostEstimate, capture_output: bool = False) -> Answer:
        parsed = json_object_or_error(response, payload_key="output")
        if parsed.get("status") == "failed":
            error = parsed.get("error") or {}
            raise UpstreamError(str(error.get("message") or "The response failed upstream"),
                                code=str(error.get("code") or "upstream_error"))
        served = Served(parsed.get("model"), parsed.get("provider"), parsed.get("id"))
        return Answer(response.content, parsed, chat_usage(parsed.get("usage")), served,
                      (responses_output(parsed, capture_output),))

    def merge(self, answers: Sequence[Answer]) -> bytes:
        return answers[0].body

    def trackers(
        self, body: Mapping[str, Any], copies: int, capture_output: bool = False
    ) -> Sequence[ResponsesStreamTracker]:
        return [ResponsesStreamTracker(capture_output=capture_output) for _ in range(copies)]

    def merger(self, body: Mapping[str, Any]) -> StreamMerger:
        """Never asked for (one stream per Responses call); the chat merger would close it in the wrong shape."""
        raise InvalidRequestError("The Responses API does not fan out: one request is one response.")
