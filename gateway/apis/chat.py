"""Chat completions (`POST /v1/chat/completions`) as the pipeline sees it: its adapter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from gateway.apis.adapter import Answer
from gateway.estimate import CostEstimate, estimate_prompt_tokens, plan_completion, route_price
from gateway.front import Routed
from gateway.metering.capture import chat_choice_output
from gateway.policy.context import enforce_context
from gateway.settlement import Served
from gateway.streaming.merge import StreamMerger, sum_usage
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.tool_arguments import fill_missing_arguments
from gateway.upstream.completions import read_completion
from gateway.upstream.reply import UpstreamReply
from gateway.validation import validate_chat_request

_OUTPUT_LIMITS = ("max_completion_tokens", "max_tokens")  # the body fields that bound the answer, by precedence

class ChatCompletionsApi:
    endpoint = "chat.completions"
    upstream_path = "/chat/completions"
    cacheable = True

    def __init__(self, *, max_n: int) -> None:
        self._max_n = max_n

    def validate(self, body: dict[str, Any]) -> None:
        validate_chat_request(body, max_n=self._max_n)

    def apply_params(self, body: dict[str, Any], routed: Routed) -> None:
        routed.policy.apply_params(body, routed.route)

    def estimate(self, body: dict[str, Any], routed: Routed) -> CostEstimate:
        """Worst case for the reservation, priced at the dearest model that may answer."""
        enforce_context(body, keys=_OUTPUT_LIMITS, models=routed.priced_models, snapshot=routed.snapshot,
                        policy=routed.policy.document.context)
        price = route_price(routed.snapshot, routed.priced_models, routed.org)
        prompt_tokens = estimate_prompt_tokens(body)
        completion = plan_completion(body, keys=_OUTPUT_LIMITS, route=routed.route,
                                     snapshot=routed.snapshot, org=routed.org, prompt_tokens=prompt_tokens, price=price)
        return CostEstimate(prompt_tokens=prompt_tokens, completion_tokens=completion, price=price)

    def record_view(self, body: dict[str, Any]) -> Mapping[str, Any]:
        return body

    def shape_upstream(self, body: dict[str, Any], routed: Routed) -> None:
        if body.get("n", 1) != 1:
            body.pop("n")  # OpenRouter ignores n: the gateway fans out n single-choice calls instead
        route = routed.route
        if routed.policy.document.upstream_fallbacks == "native" and len(route.models) > 1 and "models" not in body:
            body["models"] = list(route.models[1:])  # let OpenRouter walk the fallbacks itself

    def read_answer(self, response: UpstreamReply, estimate: CostEstimate, capture_output: bool = False) -> Answer:
        completion = read_completion(response)
        parsed = completion.parsed
        fingerprint = parsed.get("system_fingerprint")
        served = Served(parsed.get("model"), parsed.get("provider"), completion.generation_id,
                        fingerprint if isinstance(fingerprint, str) else None)
        choices = parsed.get("choices")
        outputs = tuple(chat_choice_output(choice, capture_output) for choice in choices) if isinstance(
            choices, list) else ()
        # A tool call without `arguments` (OpenRouter sends that) breaks OpenAI clients: give it "{}".
        body = orjson.dumps(parsed) if fill_missing_arguments(parsed) else completion.body
        return Answer(body, parsed, completion.usage, served, outputs)

    def merge(self, answers: Sequence[Answer]) -> bytes:
        """n > 1: one response whose choices are indexed 0..n-1 and whose usage and cost are summed."""
        if len(answers) == 1:
            return answers[0].body  # the exact upstream bytes
        merged = dict(answers[0].parsed)
        merged["choices"] = [{**choice, "index": index} for index, answer in enumerate(answers)
                             for choice in answer.parsed.get("choices") or ()]
        usages = [dict(answer.usage) for answer in answers if answer.usage is not None]
        if usages:
            merged["usage"] = sum_usage(usages)
        return orjson.dumps(merged)

    def trackers(
        self, body: Mapping[str, Any], copies: int, capture_output: bool = False
    ) -> Sequence[ChatStreamNormalizer]:
        include_usage = _include_usage(body)
        if copies == 1:
            return [ChatStreamNormalizer(include_usage=include_usage, capture_output=capture_output)]
        shared_id = f"chatcmpl-{uuid.uuid4().hex}"
        return [ChatStreamNormalizer(include_usage=False, choice_index=i, response_id=shared_id, emit_terminal=False,
                                     capture_output=capture_output)
                for i in range(copies)]

    def merger(self, body: Mapping[str, Any]) -> StreamMerger:
        return StreamMerger(include_usage=_include_usage(body))


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(options.get("include_usage")) if isinstance(options, dict) else False
