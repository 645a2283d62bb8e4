"""HTTP endpoints other than chat: model listing, health and readiness."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.authenticator import Authenticator
from gateway.catalogue import ModelCatalogue, to_openai_model
from gateway.errors import NotFoundError, ServiceUnavailableError
from gateway.shared_state import SharedState


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


class ModelRoutes:
    def __init__(self, authenticator: Authenticator, catalogue: ModelCatalogue) -> None:
        self._auth = authenticator
        self._catalogue = catalogue

    async def list_models(self, request: Request) -> Response:
        await self._auth.authenticate(request.headers.get("authorization"))
        snapshot = await self._catalogue.current()
        if snapshot is None:
            raise ServiceUnavailableError("The model catalogue is not available yet; OpenRouter could not be reached")
        return Response(snapshot.openai_list, media_type="application/json")

    async def get_model(self, request: Request) -> Response:
        await self._auth.authenticate(request.headers.get("authorization"))
        model_id = request.path_params["model_id"]
        snapshot = await self._catalogue.current()
        if snapshot is None:
            raise ServiceUnavailableError("The model catalogue is not available yet; OpenRouter could not be reached")
        model = snapshot.models.get(model_id)
        if model is None:
            raise NotFoundError(f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        return _json(to_openai_model(model))


class HealthRoutes:
    def __init__(self, catalogue: ModelCatalogue, store: SharedState) -> None:
        self._catalogue = catalogue
        self._store = store

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Ready when the upstream catalogue was reached and the store answers (or fails open, degraded)."""
        snapshot = await self._catalogue.current()
        checks = {"upstream": "ok" if snapshot is not None else "unreachable", **await self._store.health()}
        store_ok = checks["store"] in ("ok", "memory") or checks.get("store_fail_mode") == "open"
        ready = checks["upstream"] == "ok" and store_ok
        return _json({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)
