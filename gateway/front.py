"""The stages before the upstream, for every API: authenticate and parse, route (policy + catalogue), admit.

The pipeline (`gateway.pipeline`) calls them in order; each is one method here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.attribution import Attribution
from gateway.auth.authenticator import Authenticator
from gateway.auth.principal import Principal
from gateway.catalogue import CatalogueSnapshot, ModelCatalogue
from gateway.errors import InvalidRequestError, ModelNotFoundError
from gateway.estimate import CostEstimate
from gateway.limits.limiter import Limiter
from gateway.metering.capture import CAPTURE_HEADER, Capture, parse_capture_header
from gateway.metering.record import LedgerRecord
from gateway.metrics import Metrics
from gateway.middleware import LOG_FIELDS_KEY
from gateway.model_discovery import UnknownModelRefresher
from gateway.policy.compiler import OrgSettings
from gateway.policy.policy import Policy, Route
from gateway.policy.store import PolicyStore
from gateway.settings import Settings
from gateway.settlement import Call
from gateway.validation import parse_json_object


@dataclass(frozen=True, slots=True)
class Routed:
    """A caller's request after policy: who asks, under which policy, for which models, within which limits."""

    principal: Principal
    policy: Policy
    route: Route
    snapshot: CatalogueSnapshot | None
    org: OrgSettings
    client_models: tuple[str, ...] = ()  # OpenRouter's `models` fallback array, as the client sent it (resolved)

    @property
    def priced_models(self) -> tuple[str, ...]:
        """Every model that may end up answering: reservations are priced at the dearest."""
        return self.route.models + self.client_models


class Front:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        policies: PolicyStore,
        catalogue: ModelCatalogue,
        refresher: UnknownModelRefresher,
        limiter: Limiter,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._attribution = Attribution(referer=settings.app_referer, title=settings.app_title,
                                        pass_client=settings.pass_client_attribution)
        self._refresher = refresher
        self._traced = settings.otel_endpoint is not None
        self._metrics = metrics
        self._auth = authenticator
        self._policies = policies
        self._catalogue = catalogue
        self._limiter = limiter

    async def open(self, request: Request) -> tuple[Principal, dict[str, Any]]:
        """Authenticate first (a bad token is a 401 whatever the body), then parse the body once."""
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        return principal, parse_json_object(await request.body())

    async def route(self, principal: Principal, body: dict[str, Any]) -> Routed:
        """Policy rewriting and access, then the catalogue check: an unknown model never goes upstream.

        OpenRouter's own `models` fallback array gets the same treatment as `model`: each entry is resolved
        (aliases, `openrouter/` prefix), must be allowed for the org and known, and is priced into the
        reservation; otherwise it would be a way round the org's allow-list and its budget estimate.
        """
        policy = self._policies.current
        route = policy.resolve(body["model"], principal.org)
        policy.check_caller(principal, route)  # roles, scopes, allowlists: before anything is priced or consumed
        snapshot = await self._known(route.models[0], "model")
        client_models: tuple[str, ...] = ()
        if "models" in body:
            listed = body["models"]
            if not isinstance(listed, list) or not all(isinstance(m, str) and m for m in listed):
                raise InvalidRequestError("'models' must be an array of model ids.", param="models")
            client_models = tuple(policy.resolve(m, principal.org).models[0] for m in listed)
            for model in client_models:
                snapshot = await self._known(model, "models")
            body["models"] = list(client_models)
        return Routed(principal, policy, route, snapshot, policy.org_settings(principal.org), client_models)

    async def _known(self, model: str, param: str) -> CatalogueSnapshot | None:
        """The catalogue, refetched once first if it does not know `model` (OpenRouter may have just added it)."""
        snapshot = await self._catalogue.current()
        if snapshot is None or snapshot.knows(model):
            return snapshot
        snapshot = await self._refresher.lookup(model)
        if snapshot is not None and not snapshot.knows(model):
            raise ModelNotFoundError(
                f"The model '{model}' does not exist or you do not have access to it.", param=param
            )
        return snapshot

    def capture(self, request: Request, routed: Routed) -> Capture:
        """What the record keeps: the global settings, the org's and task's policy, and the request's header."""
        settings = self._settings
        parts = set(routed.policy.capture_for(routed.principal.org, routed.route.task))
        parts |= parse_capture_header(request.headers.get(CAPTURE_HEADER))
        if settings.ledger_capture_prompts:
            parts.add("prompt")
        if settings.ledger_capture_outputs:
            parts.add("output")
        return Capture.of(parts, settings.ledger_capture_max_chars)

    def start_record(
        self, request: Request, routed: Routed, record_body: Mapping[str, Any], endpoint: str = "chat.completions",
        capture: Capture | None = None,
    ) -> tuple[LedgerRecord, dict[str, Any]]:
        """The call's ledger record and its access-line fields, before anything is reserved or sent."""
        principal, route = routed.principal, routed.route
        record = LedgerRecord.start(
            request_id=str(request.scope.get("gateway.request_id") or os.urandom(16).hex()),
            org=principal.org, subject=principal.subject, task=route.task, model_requested=route.requested,
            model_routed=route.models[0], body=record_body, tags_header=request.headers.get("x-gateway-tags"),
            capture=capture or self.capture(request, routed), endpoint=endpoint,
        )
        fields: dict[str, Any] = request.scope.get(LOG_FIELDS_KEY, {})
        fields.update(org=principal.org, subject=principal.subject, model_requested=route.requested,
                      model_routed=route.models[0], task=route.task, stream=record.stream, n=record.n)
        if principal.key is not None:
            fields["key_id"] = principal.key.id  # not `key`: the log redaction blanks fields named like secrets
        return record, fields

    def trace_headers(self, request: Request) -> dict[str, str] | None:
        """The W3C trace context a call's span continues (only looked up when tracing is on)."""
        if not self._traced:
            return None
        return {name: value for name in ("traceparent", "tracestate") if (value := request.headers.get(name))}

    async def admit(
        self,
        request: Request,
        routed: Routed,
        record_body: Mapping[str, Any],
        estimate: CostEstimate,
        endpoint: str,
    ) -> Call:
        """Open the call's ledger record and take its reservation (raises 429 when limits or budget say no).

        The record's `n` is how many upstream calls the request makes (chat's fan-out): each one is reserved.
        """
        capture = self.capture(request, routed)
        record, fields = self.start_record(request, routed, record_body, endpoint, capture)
        ticket = await self._limiter.admit(routed.principal, routed.org, estimate, record.n)
        self._metrics.call_started()  # Settler.finish ends it, however the call ends
        return Call(route=routed.route, ticket=ticket, record=record, log_fields=fields, endpoint=endpoint,
                    trace_headers=self.trace_headers(request),
                    upstream_headers=self._attribution.for_request(request.headers),
                    capture=capture, prompt=record_body.get("messages"))
