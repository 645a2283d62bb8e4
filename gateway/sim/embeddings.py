"""`POST /api/v1/embeddings` and `GET /api/v1/embeddings/models` (OPENROUTER.md §10).

Routed, fault-injected, billed (input tokens × the endpoint's prompt price) and filed for `/generation`
(`api_type: "embeddings"`) by the shared generation path; the answer is one deterministic vector per input.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from gateway.sim.answers import Answer
from gateway.sim.attempts import Attempt
from gateway.sim.endpoint import JSON, DropConnection, GenerationEndpoint, delivery_fault, json_delay
from gateway.sim.errors import SimError, provider_error
from gateway.sim.exchange import Exchange
from gateway.sim.knobs import Knobs
from gateway.sim.routing import AUTO_ROUTER
from gateway.sim.state import user_id_for
from gateway.sim.tokenizer import count_tokens
from gateway.sim.vectors import embedding_items

ENCODINGS = ("float", "base64")
_PASSED = ("model", "models", "provider", "sim", "user", "dimensions", "input_type")


def _bad(message: str) -> SimError:
    return SimError(400, message, {"error_type": "invalid_request"})


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(token, int) and not isinstance(token, bool) for token in value)


def normalise_input(value: Any) -> list[str | list[int]]:
    """string | string[] | int[] | int[][] as a list of inputs; 400 for anything else or anything empty."""
    if isinstance(value, str) or _is_tokens(value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _bad("Input validation failed: input must be a non-empty string, array of strings or array of "
                   "token arrays")
    for item in value:
        if not ((isinstance(item, str) and item) or _is_tokens(item)):
            raise _bad("Input validation failed: each input must be a non-empty string or token array")
    return value


class EmbeddingsEndpoint(GenerationEndpoint):
    api_type = "embeddings"

    def translate(self, body: dict[str, Any]) -> dict[str, Any]:
        translated = {key: body[key] for key in _PASSED if key in body}
        translated["input"] = normalise_input(body.get("input"))
        encoding = body.get("encoding_format") or "float"
        if encoding not in ENCODINGS:
            raise _bad("Input validation failed: encoding_format must be \"float\" or \"base64\"")
        translated["encoding_format"] = encoding
        dimensions = body.get("dimensions")
        if dimensions is not None and (not isinstance(dimensions, int) or isinstance(dimensions, bool)
                                       or dimensions < 1):
            raise _bad("Input validation failed: dimensions must be a positive integer")
        return translated

    def validate(self, body: dict[str, Any]) -> None:
        """`translate` checked the input; `provider` and `models` are the chat rules."""

    def check_models(self, body: dict[str, Any], slugs: list[str]) -> None:
        dimensions = body.get("dimensions")
        for slug in slugs:
            spec = self.state.registry.get(slug.partition(":")[0]) if slug != AUTO_ROUTER else None
            if spec is None or spec.dimensions is None:
                raise _bad(f"{slug} is not an embedding model; see /api/v1/embeddings/models")
            if dimensions is not None and dimensions > spec.dimensions:
                raise _bad(f"dimensions {dimensions} is larger than {slug}'s {spec.dimensions}")

    def count_prompt(self, body: dict[str, Any]) -> int:
        return sum(len(item) if isinstance(item, list) else count_tokens(item) for item in body["input"])

    def flagged_text(self, body: dict[str, Any]) -> str:
        return " ".join(item for item in body["input"] if isinstance(item, str))

    def plan(self, body: dict[str, Any], attempt: Attempt, knobs: Knobs) -> Answer:
        return Answer()

    async def render_json(self, exchange: Exchange, api_key: str) -> ASGIApp:
        kind, _ = delivery_fault(exchange)
        await json_delay(exchange, kind)
        if kind == "disconnect":
            exchange.settle("error")
            return DropConnection()
        if kind is not None and kind != "stall":
            # Nothing partial to deliver: every in-band kind is an error inside a 200 body.
            exchange.settle("error")
            error = provider_error(502, exchange.provider, "upstream returned an empty response")
            return Response(error.body(user_id_for(api_key)), 200, self.headers(exchange), JSON)
        usage = exchange.usage()
        exchange.settle("completed", usage)
        body = exchange.body
        spec = exchange.attempt.target.spec
        assert spec.dimensions is not None  # check_models admitted only embedding models
        data = embedding_items(spec.id, body["input"], spec.dimensions, body.get("dimensions") or spec.dimensions,
                               body["encoding_format"])
        document = {"object": "list", "data": data, "model": exchange.model, "id": exchange.generation_id,
                    "usage": {"prompt_tokens": usage["prompt_tokens"], "total_tokens": usage["prompt_tokens"],
                              "cost": usage["cost"], "is_byok": False}}
        return self.json_response(exchange, document)

    async def models(self, request: Request) -> Response:
        """The embedding models, in `/models`' shape; no auth, like `/models`."""
        self.state.ledger.requests_total += 1
        return Response(self.state.registry.listing("embeddings", ""), media_type=JSON)
