"""POST /v1/responses: OpenRouter's stateless Responses API through the same pipeline as chat completions."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.completions import json_object_or_error
from gateway.errors import GatewayError, InvalidRequestError, UpstreamError
from gateway.estimate import CHARS_PER_TOKEN, CostEstimate, plan_completion, route_price
from gateway.front import Front, Routed
from gateway.policy.policy import Route
from gateway.settlement import Call, Served, Settler, cost_header
from gateway.streaming.responses import ResponsesStreamTracker, chat_usage
from gateway.upstream.chat import Payloads, Plan, Resilience, open_event_stream
from gateway.upstream.client import UpstreamClient

RESPONSES_PATH = "/responses"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
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


def _estimate(body: dict[str, Any], routed: Routed) -> CostEstimate:
    """Worst case for the reservation; a task's max_cost_usd clamps max_output_tokens as it does max_tokens."""
    text = body["input"] if isinstance(body["input"], str) else orjson.dumps(body["input"]).decode()
    prompt = -(-(len(text) + len(str(body.get("instructions") or ""))) // CHARS_PER_TOKEN)
    price = route_price(routed.snapshot, routed.priced_models, routed.org)
    completion = plan_completion(body, keys=("max_output_tokens",), route=routed.route, snapshot=routed.snapshot,
                                 org=routed.org, prompt_tokens=prompt, price=price)
    return CostEstimate(prompt_tokens=prompt, completion_tokens=completion, price=price)


class ResponsesProxy:
    def __init__(self, front: Front, upstream: UpstreamClient, resilience: Resilience, settler: Settler) -> None:
        self._front = front
        self._upstream = upstream
        self._resilience = resilience
        self._settler = settler

    async def responses(self, request: Request) -> Response:
        principal, body = await self._front.open(request)
        validate_responses_request(body)
        routed = await self._front.route(principal, body)
        apply_task_params(body, routed.route)
        estimate = _estimate(body, routed)
        record_view = {**body, "messages": body["input"], "max_tokens": body.get("max_output_tokens")}
        call = await self._front.admit(request, routed, record_view, estimate, endpoint="responses")
        plan = self._resilience.plan(routed.policy, routed.route)
        try:
            if body.get("stream"):
                return await self._stream(Payloads(body), plan, call, estimate)
            return await self._complete(Payloads(body), plan, call)
        except GatewayError as exc:
            self._settler.finish(call, status=exc.status, error_type=exc.type)
            raise

    async def _complete(self, payloads: Payloads, plan: Plan, call: Call) -> Response:
        async def attempt(model: str) -> httpx.Response:
            response = await self._upstream.post(RESPONSES_PATH, payloads.for_model(model), stream=False,
                                                 connect_timeout_s=plan.connect_s)
            parsed = json_object_or_error(response, payload_key="output")
            if parsed.get("status") == "failed":
                error = parsed.get("error") or {}
                raise UpstreamError(str(error.get("message") or "The response failed upstream"),
                                    code=str(error.get("code") or "upstream_error"))
            return response

        call.upstream_started_at = time.perf_counter()
        outcome = await plan.caller.call(plan.models, attempt, deadline_s=plan.deadline_s)
        call.note_attempts(outcome.attempts)
        parsed = orjson.loads(outcome.value.content)
        served = Served(str(parsed.get("model") or outcome.model_used), parsed.get("provider"), parsed.get("id"))
        self._settler.finish(call, status=200, usages=[chat_usage(parsed.get("usage"))], served=served)
        headers = call.response_headers()
        headers["x-gateway-cost-usd"] = cost_header(call.record.cost_usd)
        headers["x-gateway-model-served"] = served.model or outcome.model_used
        if served.generation_id:
            headers["x-generation-id"] = served.generation_id
        return Response(outcome.value.content, media_type="application/json", headers=headers)

    async def _stream(self, payloads: Payloads, plan: Plan, call: Call, estimate: CostEstimate) -> Response:
        async def attempt(model: str) -> httpx.Response:
            return await open_event_stream(self._upstream, RESPONSES_PATH, payloads.for_model(model), plan.idle_s,
                                           plan.connect_s)

        call.upstream_started_at = time.perf_counter()
        outcome = await plan.caller.call(
            plan.models, attempt, deadline_s=plan.deadline_s, attempt_timeout_s=plan.first_byte_s
        )
        call.note_attempts(outcome.attempts)
        headers = {**call.response_headers(), **_SSE_HEADERS, "x-gateway-model-served": outcome.model_used}
        if generation_id := outcome.value.headers.get("x-generation-id"):
            headers["x-generation-id"] = generation_id
        stream = self._relay(outcome.value, call, estimate, generation_id)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    async def _relay(
        self, response: httpx.Response, call: Call, estimate: CostEstimate, generation_id: str | None
    ) -> AsyncIterator[bytes]:
        tracker = ResponsesStreamTracker()
        cancelled = True
        try:
            try:
                async for data in response.aiter_bytes():
                    call.first_event()
                    yield tracker.feed(data)
                    if tracker.done:
                        break
                tail = tracker.finish()
            except httpx.HTTPError:
                tail = tracker.abort("The upstream connection failed mid-stream", "upstream_stream_truncated")
            if tail:
                yield tail
            cancelled = False
        finally:
            await response.aclose()
            # Without usage the prompt was still billed (a stream cut before its first event too): estimate it all.
            estimated = estimate.cost_of(tracker.completion_chars) if tracker.usage is None else 0.0
            self._settler.finish(
                call, status=200, usages=[tracker.usage],
                served=Served(tracker.model, None, tracker.generation_id or generation_id),
                error_type="api_error" if tracker.error else None,
                estimated_cost_usd=estimated, cancelled=cancelled,
            )
