"""The chat request path, and the only place that knows the order of its stages.

auth → parse/validate → policy → catalogue → limits (admit) → upstream (JSON or SSE) → response → settle.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.admission import Limiter, Ticket
from gateway.auth.authenticator import Authenticator
from gateway.background import BackgroundTasks
from gateway.catalogue import CatalogueSnapshot, ModelCatalogue
from gateway.completions import merge_completions
from gateway.errors import GatewayError, ModelNotFoundError
from gateway.estimate import CostEstimate, estimate_prompt_tokens, requested_max_tokens, route_price
from gateway.middleware import LOG_FIELDS_KEY
from gateway.policy.compiler import OrgSettings
from gateway.policy.cost_cap import fit_max_tokens
from gateway.policy.policy import Route
from gateway.policy.store import PolicyStore
from gateway.settings import Settings
from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streams import relay_fanout, relay_stream
from gateway.upstream.chat import ChatUpstream
from gateway.validation import parse_json_object, validate_chat_request

log = structlog.get_logger(__name__)

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(slots=True)
class Call:
    """One chat call in flight: its route, its reservation, and the fields of its access line."""

    route: Route
    ticket: Ticket
    stream: bool
    n: int
    fields: dict[str, Any]
    started_at: float = field(default_factory=time.perf_counter)

    def response_headers(self) -> dict[str, str]:
        headers = {"x-gateway-model-requested": self.route.requested, "x-gateway-model-routed": self.route.models[0]}
        if self.route.task:
            headers["x-gateway-task"] = self.route.task
        headers.update(self.ticket.rate_headers())
        return headers


def _sum_usage(usages: Sequence[Mapping[str, Any] | None]) -> tuple[float, int, int]:
    cost, prompt, completion = 0.0, 0, 0
    for usage in usages:
        if usage:
            cost += float(usage.get("cost") or 0)
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
    return cost, prompt, completion


def _cost_header(cost: float) -> str:
    return f"{cost:.10f}".rstrip("0").rstrip(".") or "0"


class ChatProxy:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        policies: PolicyStore,
        catalogue: ModelCatalogue,
        limiter: Limiter,
        upstream: ChatUpstream,
        background: BackgroundTasks,
    ) -> None:
        self._settings = settings
        self._auth = authenticator
        self._policies = policies
        self._catalogue = catalogue
        self._limiter = limiter
        self._upstream = upstream
        self._background = background

    async def chat_completions(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        body = parse_json_object(await request.body())
        validate_chat_request(body, max_n=self._settings.max_n)
        policy = self._policies.current
        route = policy.resolve(body["model"], principal.org)
        policy.apply_params(body, route)
        snapshot = await self._catalogue.current()
        if snapshot is not None and not snapshot.knows(route.models[0]):
            raise ModelNotFoundError(
                f"The model '{route.models[0]}' does not exist or you do not have access to it.", param="model"
            )
        org = policy.org_settings(principal.org)
        estimate = self._estimate(body, route, snapshot, org)
        n = int(body.get("n") or 1)
        stream = bool(body.get("stream"))
        fields: dict[str, Any] = request.scope.get(LOG_FIELDS_KEY, {})
        fields.update(org=principal.org, subject=principal.subject, model_requested=route.requested,
                      model_routed=route.models[0], task=route.task, stream=stream, n=n)
        ticket = await self._limiter.admit(principal, org, estimate, n)
        call = Call(route=route, ticket=ticket, stream=stream, n=n, fields=fields)
        if n > 1:
            body.pop("n")  # OpenRouter ignores n: the gateway fans out n single-choice calls instead
        payload = orjson.dumps(body)
        try:
            if stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return await self._stream(payload, call, include_usage)
            return await self._complete(payload, call)
        except GatewayError:
            self._background.spawn(self._limiter.release(ticket))
            raise

    def _estimate(
        self, body: dict[str, Any], route: Route, snapshot: CatalogueSnapshot | None, org: OrgSettings
    ) -> CostEstimate:
        """Worst case for the reservation; a task's max_cost_usd clamps max_tokens to what fits (or rejects)."""
        price = route_price(snapshot, route.models)
        prompt_tokens = estimate_prompt_tokens(body)
        requested = requested_max_tokens(body)
        model_cap = snapshot.max_output_tokens(route.models[0]) if snapshot else None
        completion = requested or min(org.max_completion_tokens, model_cap or org.max_completion_tokens)
        if route.max_cost_usd is not None:
            fitted = fit_max_tokens(max_cost_usd=route.max_cost_usd, prompt_tokens=prompt_tokens,
                                    prompt_price=price.prompt, completion_price=price.completion,
                                    requested=requested, model_cap=model_cap)
            if fitted is not None and fitted != requested:
                key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
                body[key] = fitted
                completion = fitted
        return CostEstimate(prompt_tokens=prompt_tokens, completion_tokens=completion, price=price)

    async def _complete(self, payload: bytes, call: Call) -> Response:
        if call.n == 1:
            completion = await self._upstream.complete(payload)
            parts = [completion]
            body = completion.body
        else:
            parts = await self._upstream.complete_many(payload, call.n)
            body = orjson.dumps(merge_completions(parts))
        cost, prompt, completion_tokens = _sum_usage([p.usage for p in parts])
        served = parts[0].parsed.get("model")
        self._finish(call, cost, prompt + completion_tokens, served, parts[0].parsed.get("provider"),
                     prompt=prompt, completion=completion_tokens)
        headers = call.response_headers()
        headers["x-gateway-cost-usd"] = _cost_header(cost)
        if parts[0].generation_id:
            headers["x-generation-id"] = parts[0].generation_id
        return Response(body, media_type="application/json", headers=headers)

    async def _stream(self, payload: bytes, call: Call, include_usage: bool) -> Response:
        headers = {**call.response_headers(), **_SSE_HEADERS}
        if call.n == 1:
            response = await self._upstream.open_stream(payload)
            if generation_id := response.headers.get("x-generation-id"):
                headers["x-generation-id"] = generation_id
            normalizer = ChatStreamNormalizer(include_usage=include_usage)
            body = relay_stream(response, normalizer, lambda ns, cancelled: self._stream_done(call, ns, cancelled))
            return StreamingResponse(body, media_type="text/event-stream", headers=headers)
        responses = await self._upstream.open_streams(payload, call.n)
        shared_id = f"chatcmpl-{uuid.uuid4().hex}"
        normalizers = [
            ChatStreamNormalizer(include_usage=False, choice_index=i, response_id=shared_id, emit_terminal=False)
            for i in range(call.n)
        ]
        merger = StreamMerger(include_usage=include_usage)
        body = relay_fanout(responses, normalizers, merger, lambda ns, c: self._stream_done(call, ns, c))
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)

    def _stream_done(self, call: Call, normalizers: Sequence[ChatStreamNormalizer], cancelled: bool) -> None:
        """Settle what the stream really cost; a choice cut short without usage is billed from its streamed text."""
        cost, prompt, completion = _sum_usage([n.usage for n in normalizers])
        estimate = call.ticket.estimate
        for normalizer in normalizers:
            if normalizer.usage is None and normalizer.completion_chars:
                cost += estimate.cost_of(normalizer.completion_chars)
        errors = [n.error for n in normalizers if n.error is not None]
        call.fields.update(cancelled=cancelled, stream_error=errors[0].get("code") if errors else None)
        first = normalizers[0]
        self._finish(call, cost, prompt + completion, first.model, first.provider, prompt=prompt, completion=completion)

    def _finish(
        self, call: Call, cost: float, tokens: int, served: Any, provider: Any, *, prompt: int, completion: int
    ) -> None:
        call.fields.update(model_served=served, provider=provider, prompt_tokens=prompt, completion_tokens=completion,
                           cost_usd=round(cost, 10))
        model = str(served or call.route.models[0])
        if cost > 0 or tokens > 0:
            self._background.spawn(self._limiter.settle(call.ticket, model=model, cost_usd=cost, tokens=tokens))
        else:
            self._background.spawn(self._limiter.release(call.ticket))
