"""Embeddings (`POST /v1/embeddings`) as the pipeline sees it: its adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from gateway.apis.adapter import Answer
from gateway.errors import InvalidRequestError
from gateway.estimate import CHARS_PER_TOKEN, CostEstimate, route_price
from gateway.front import Routed
from gateway.settlement import Served
from gateway.streaming.merge import StreamMerger
from gateway.streaming.relay import StreamTracker
from gateway.upstream.completions import json_object_or_error
from gateway.upstream.reply import UpstreamReply

_NO_STREAM = "Embeddings are answered whole; there is no stream to track."


def _input_tokens(value: Any) -> int:
    """Strings count ~4 characters a token; token arrays count their length."""
    if isinstance(value, str):
        return -(-len(value) // CHARS_PER_TOKEN)
    if isinstance(value, list):
        if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            return len(value)
        return sum(_input_tokens(item) for item in value)
    return 0


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_input(value: Any) -> bool:
    """Exactly one of OpenAI's four shapes: a string, strings, tokens, or token arrays (nothing empty or mixed)."""
    if isinstance(value, str):
        return value != ""
    if not isinstance(value, list) or not value:
        return False
    if all(map(_is_token, value)) or all(isinstance(item, str) and item for item in value):
        return True
    return all(isinstance(item, list) and item and all(map(_is_token, item)) for item in value)


def validate_embeddings_request(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    if body.get("input") is None:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    if not _valid_input(body["input"]):
        raise InvalidRequestError(
            "'input' must be a non-empty string, array of strings, array of tokens or array of token arrays.",
            param="input",
        )


def _usage(parsed: dict[str, Any], estimate: CostEstimate) -> dict[str, Any]:
    """OpenRouter's usage, with a cost from the catalogue's prompt price when the upstream gave none."""
    usage = dict(parsed.get("usage") or {})
    prompt = int(usage.get("prompt_tokens") or usage.get("total_tokens") or estimate.prompt_tokens)
    usage.setdefault("prompt_tokens", prompt)
    if usage.get("cost") is None:
        usage["cost"] = prompt * estimate.price.prompt
    return usage


class EmbeddingsApi:
    endpoint = "embeddings"
    upstream_path = "/embeddings"
    cacheable = False

    def validate(self, body: dict[str, Any]) -> None:
        validate_embeddings_request(body)

    def apply_params(self, body: dict[str, Any], routed: Routed) -> None:
        body["model"] = routed.route.models[0]  # no task params apply to embeddings

    def estimate(self, body: dict[str, Any], routed: Routed) -> CostEstimate:
        price = route_price(routed.snapshot, routed.priced_models, routed.org)
        return CostEstimate(prompt_tokens=_input_tokens(body["input"]), completion_tokens=0, price=price)

    def record_view(self, body: dict[str, Any]) -> Mapping[str, Any]:
        return {"messages": body["input"], "model": body["model"], "dimensions": body.get("dimensions")}

    def shape_upstream(self, body: dict[str, Any], routed: Routed) -> None:
        """The body goes as the client sent it, with the routed model."""

    def read_answer(self, response: UpstreamReply, estimate: CostEstimate, capture_output: bool = False) -> Answer:
        parsed = json_object_or_error(response)
        usage = _usage(parsed, estimate)
        content = response.content
        if isinstance(parsed.get("usage"), dict) and parsed["usage"].get("cost") is None:
            parsed["usage"] = usage  # tell the client what it cost, as OpenRouter does when it knows
            content = orjson.dumps(parsed)
        generation_id = response.headers.get("x-generation-id") or parsed.get("id")
        return Answer(content, parsed, usage, Served(parsed.get("model"), parsed.get("provider"), generation_id))

    def merge(self, answers: Sequence[Answer]) -> bytes:
        return answers[0].body

    def trackers(self, body: Mapping[str, Any], copies: int, capture_output: bool = False) -> Sequence[StreamTracker]:
        raise InvalidRequestError(_NO_STREAM, param="stream")

    def merger(self, body: Mapping[str, Any]) -> StreamMerger:
        raise InvalidRequestError(_NO_STREAM, param="stream")
