"""HTTP endpoints other than chat: model listing, health and readiness."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.authenticator import Authenticator
from gateway.auth.principal import Principal
from gateway.catalogue import CatalogueSnapshot, ModelCatalogue, to_openai_model
from gateway.errors import NotFoundError, ServiceUnavailableError
from gateway.model_discovery import UnknownModelRefresher
from gateway.model_filters import ModelFilter
from gateway.policy.store import PolicyStore
from gateway.shared_state import SharedState


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("The model catalogue is not available yet; OpenRouter could not be reached")


class ModelRoutes:
    """`/v1/models`: the catalogue as the caller may use it (its org's allow/deny lists, unless `list_all`),
    narrowed by OpenRouter's filters (`gateway.model_filters`). Unknown ids refetch the catalogue once first."""

    def __init__(
        self,
        authenticator: Authenticator,
        catalogue: ModelCatalogue,
        policies: PolicyStore | None = None,
        refresher: UnknownModelRefresher | None = None,
        *,
        list_all: bool = False,
    ) -> None:
        self._auth = authenticator
        self._catalogue = catalogue
        self._policies = policies
        self._refresher = refresher
        self._list_all = list_all or policies is None

    def _permitted(self, principal: Principal, model_id: str) -> bool:
        return self._list_all or self._policies is None or self._policies.current.permits_model(principal.org, model_id)

    async def list_models(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        wanted = ModelFilter.from_query(request.query_params)
        snapshot = await self._catalogue.current()
        if snapshot is None:
            raise _unavailable()
        if wanted.empty and self._list_all:
            return Response(snapshot.openai_list, media_type="application/json")  # prebuilt once per fetch
        data = [to_openai_model(model) for model_id, model in snapshot.models.items()
                if wanted.matches(model) and self._permitted(principal, model_id)]
        return _json({"object": "list", "data": data})

    async def get_model(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        model_id = request.path_params["model_id"]
        snapshot: CatalogueSnapshot | None
        if self._refresher is not None:
            snapshot = await self._refresher.lookup(model_id)
        else:
            snapshot = await self._catalogue.current()
        if snapshot is None:
            raise _unavailable()
        model = snapshot.models.get(model_id)
        # A model the org may not use is as absent as one that does not exist (OpenAI answers 404 for both).
        if model is None or not self._permitted(principal, model_id):
            raise NotFoundError(f"The model '{model_id}' does not exist or you do not have access to it",
                                param="model", code="model_not_found")
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
