"""POST /v1/embeddings: OpenRouter's /embeddings behind the same identity, policy, budgets and metering."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.completions import json_object_or_error
from gateway.errors import GatewayError, InvalidRequestError
from gateway.estimate import CHARS_PER_TOKEN, CostEstimate, route_price
from gateway.front import Front
from gateway.settlement import Served, Settler, cost_header
from gateway.upstream.chat import Payloads, Resilience
from gateway.upstream.client import UpstreamClient

EMBEDDINGS_PATH = "/embeddings"


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


class EmbeddingsProxy:
    def __init__(self, front: Front, upstream: UpstreamClient, resilience: Resilience, settler: Settler) -> None:
        self._front = front
        self._upstream = upstream
        self._resilience = resilience
        self._settler = settler

    async def embeddings(self, request: Request) -> Response:
        principal, body = await self._front.open(request)
        validate_embeddings_request(body)
        routed = await self._front.route(principal, body)
        body["model"] = routed.route.models[0]
        price = route_price(routed.snapshot, routed.priced_models, routed.org)
        estimate = CostEstimate(prompt_tokens=_input_tokens(body["input"]), completion_tokens=0, price=price)
        record_view = {"messages": body["input"], "model": body["model"], "dimensions": body.get("dimensions")}
        call = await self._front.admit(request, routed, record_view, estimate, endpoint="embeddings")
        plan = self._resilience.plan(routed.policy, routed.route)
        payloads = Payloads(body)

        async def attempt(model: str) -> tuple[bytes, dict[str, Any], str | None]:
            response = await self._upstream.post(EMBEDDINGS_PATH, payloads.for_model(model), stream=False,
                                                 connect_timeout_s=plan.connect_s)
            parsed = json_object_or_error(response)
            return response.content, parsed, response.headers.get("x-generation-id")

        try:
            outcome = await plan.caller.call(plan.models, attempt, deadline_s=plan.deadline_s)
        except GatewayError as exc:
            self._settler.finish(call, status=exc.status, error_type=exc.type)
            raise
        content, parsed, generation_id = outcome.value
        call.note_attempts(outcome.attempts)
        usage = _usage(parsed, estimate)
        served = Served(str(parsed.get("model") or outcome.model_used), parsed.get("provider"),
                        generation_id or parsed.get("id"))
        self._settler.finish(call, status=200, usages=[usage], served=served)
        headers = call.response_headers()
        headers["x-gateway-cost-usd"] = cost_header(call.record.cost_usd)
        headers["x-gateway-model-served"] = served.model or outcome.model_used
        if isinstance(parsed.get("usage"), dict) and parsed["usage"].get("cost") is None:
            parsed["usage"] = usage  # tell the client what it cost, as OpenRouter does when it knows
            content = orjson.dumps(parsed)
        return Response(content, media_type="application/json", headers=headers)
