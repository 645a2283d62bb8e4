"""Read-only OpenRouter endpoints: the model catalogue, `/key`, `/credits` and `/generation` (§5, §6)."""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.sim.errors import SimError
from gateway.sim.state import SimState, user_id_for

JSON = "application/json"


def _json(document: object, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status, media_type=JSON)


def _error(error: SimError, key: str | None = None) -> Response:
    return Response(error.body(user_id_for(key)), error.status, error.headers or None, JSON)


def _mask(key: str) -> str:
    return f"{key[:10]}...{key[-4:]}" if len(key) > 16 else key


class AccountEndpoints:
    def __init__(self, state: SimState) -> None:
        self.state = state

    def _count(self) -> None:
        self.state.ledger.requests_total += 1

    async def models(self, request: Request) -> Response:
        """No auth, like OpenRouter; default output modality is text only."""
        self._count()
        query = request.query_params
        body = self.state.registry.listing(query.get("output_modalities", "text"),
                                           query.get("supported_parameters", ""))
        return Response(body, media_type=JSON)

    async def models_count(self, request: Request) -> Response:
        self._count()
        count = self.state.registry.count(request.query_params.get("output_modalities", "text"))
        return _json({"data": {"count": count}})

    async def endpoints(self, request: Request) -> Response:
        self._count()
        model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
        body = self.state.registry.endpoints(model_id)
        if body is None:
            return _error(SimError(404, f"No endpoints found for {model_id}."))
        return Response(body, media_type=JSON)

    async def key(self, request: Request) -> Response:
        self._count()
        try:
            key = self.state.authenticate(request.headers.get("authorization"))
        except SimError as error:
            return _error(error)
        ledger = self.state.ledger
        daily, weekly, monthly = ledger.usage_windows()
        data = {
            "label": _mask(key), "limit": None, "limit_reset": None, "limit_remaining": None,
            "include_byok_in_limit": False, "usage": ledger.total_usage, "usage_daily": daily,
            "usage_weekly": weekly, "usage_monthly": monthly, "byok_usage": 0, "byok_usage_daily": 0,
            "byok_usage_weekly": 0, "byok_usage_monthly": 0, "is_free_tier": ledger.total_credits <= 0,
            "is_management_key": False, "is_provisioning_key": False, "expires_at": None,
            "creator_user_id": user_id_for(key),
            "rate_limit": {"requests": -1, "interval": "10s", "note": "This field is deprecated and safe to ignore."},
        }
        return _json({"data": data})

    async def credits(self, request: Request) -> Response:
        self._count()
        try:
            key = self.state.authenticate(request.headers.get("authorization"))
        except SimError as error:
            return _error(error)
        if self.state.config.credits_need_management_key:
            return _error(SimError(403, "Only management keys can perform this operation"), key)
        ledger = self.state.ledger
        return _json({"data": {"total_credits": ledger.total_credits, "total_usage": ledger.total_usage}})

    async def generation(self, request: Request) -> Response:
        self._count()
        try:
            key = self.state.authenticate(request.headers.get("authorization"))
        except SimError as error:
            return _error(error)
        generation_id = request.query_params.get("id", "")
        record = self.state.ledger.generation(generation_id, time.monotonic())
        if record is None:
            return _error(SimError(404, f"Generation {generation_id} not found"), key)
        return _json({"data": record})
