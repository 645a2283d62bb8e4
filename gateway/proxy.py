"""The chat request path, and the only place that knows the order of its stages.

auth → parse/validate → policy → catalogue check → upstream (JSON or SSE) → response headers → settle.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.auth.authenticator import Authenticator
from gateway.catalogue import ModelCatalogue
from gateway.completions import Completion, merge_completions, read_completion
from gateway.errors import GatewayError, ModelNotFoundError
from gateway.middleware import LOG_FIELDS_KEY
from gateway.policy.policy import Route
from gateway.policy.store import PolicyStore
from gateway.settings import Settings
from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streams import relay_fanout, relay_stream
from gateway.upstream.client import UpstreamClient
from gateway.upstream.errors import translate_error
from gateway.validation import parse_json_object, validate_chat_request

log = structlog.get_logger(__name__)

CHAT_PATH = "/chat/completions"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(slots=True)
class CallRecord:
    """What one call did, for the access line (and, later, the ledger)."""

    org: str
    subject: str
    route: Route
    stream: bool
    n: int
    started_at: float = field(default_factory=time.perf_counter)
    fields: dict[str, Any] = field(default_factory=dict)

    def route_headers(self) -> dict[str, str]:
        headers = {"x-gateway-model-requested": self.route.requested, "x-gateway-model-routed": self.route.models[0]}
        if self.route.task:
            headers["x-gateway-task"] = self.route.task
        return headers


def _usage_fields(usages: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    prompt = completion = 0
    cost = 0.0
    for usage in usages:
        if usage:
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
            cost += float(usage.get("cost") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": round(cost, 10)}


class ChatProxy:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        policies: PolicyStore,
        catalogue: ModelCatalogue,
        upstream: UpstreamClient,
    ) -> None:
        self._settings = settings
        self._auth = authenticator
        self._policies = policies
        self._catalogue = catalogue
        self._upstream = upstream

    async def chat_completions(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        body = parse_json_object(await request.body())
        validate_chat_request(body, max_n=self._settings.max_n)
        policy = self._policies.current
        route = policy.resolve(body["model"], principal.org)
        policy.apply_params(body, route)
        await self._check_model_known(route.models[0])
        n = int(body.get("n") or 1)
        stream = bool(body.get("stream"))
        call = CallRecord(org=principal.org, subject=principal.subject, route=route, stream=stream, n=n)
        log_fields = request.scope.get(LOG_FIELDS_KEY, {})
        log_fields.update(org=call.org, subject=call.subject, model_requested=route.requested,
                          model_routed=route.models[0], task=route.task, stream=stream, n=n)
        call.fields = log_fields
        if n > 1:
            body.pop("n")  # OpenRouter ignores n: the gateway fans out n single-choice calls instead
        payload = orjson.dumps(body)
        if stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(payload, call, include_usage)
        return await self._complete(payload, call)

    async def _check_model_known(self, model: str) -> None:
        snapshot = await self._catalogue.current()
        if snapshot is not None and not snapshot.knows(model):
            raise ModelNotFoundError(f"The model '{model}' does not exist or you do not have access to it.",
                                     param="model")

    async def _complete(self, payload: bytes, call: CallRecord) -> Response:
        if call.n == 1:
            completion = read_completion(await self._upstream.post(CHAT_PATH, payload, stream=False))
            self._record(call, [completion.usage], completion.parsed.get("model"), completion.parsed.get("provider"))
            return self._json_response(completion.body, call, completion.usage, completion.generation_id)
        parts = await self._fan_out_json(payload, call.n)
        merged = merge_completions(parts)
        usage = merged.get("usage")
        self._record(call, [p.usage for p in parts], merged.get("model"), merged.get("provider"))
        return self._json_response(orjson.dumps(merged), call, usage, parts[0].generation_id)

    async def _fan_out_json(self, payload: bytes, n: int) -> list[Completion]:
        async def one() -> Completion:
            return read_completion(await self._upstream.post(CHAT_PATH, payload, stream=False))

        tasks = [asyncio.ensure_future(one()) for _ in range(n)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    def _json_response(
        self, body: bytes, call: CallRecord, usage: Mapping[str, Any] | None, generation_id: str | None
    ) -> Response:
        headers = call.route_headers()
        if usage is not None and usage.get("cost") is not None:
            headers["x-gateway-cost-usd"] = f"{float(usage['cost']):.10f}".rstrip("0").rstrip(".") or "0"
        if generation_id:
            headers["x-generation-id"] = generation_id
        return Response(body, media_type="application/json", headers=headers)

    async def _open_stream(self, payload: bytes) -> httpx.Response:
        response = await self._upstream.post(CHAT_PATH, payload, stream=True)
        content_type = response.headers.get("content-type", "")
        if response.status_code == 200 and content_type.startswith("text/event-stream"):
            return response
        try:
            body = await response.aread()
        except httpx.HTTPError:
            body = b""
        finally:
            await response.aclose()
        raise translate_error(response.status_code, body, response.headers)

    async def _stream(self, payload: bytes, call: CallRecord, include_usage: bool) -> Response:
        headers = {**call.route_headers(), **_SSE_HEADERS}
        if call.n == 1:
            response = await self._open_stream(payload)
            if generation_id := response.headers.get("x-generation-id"):
                headers["x-generation-id"] = generation_id
            normalizer = ChatStreamNormalizer(include_usage=include_usage)
            body = relay_stream(response, normalizer, lambda ns, cancelled: self._stream_done(call, ns, cancelled))
            return StreamingResponse(body, media_type="text/event-stream", headers=headers)
        responses = await self._open_streams(payload, call.n)
        shared_id = f"chatcmpl-{uuid.uuid4().hex}"
        normalizers = [
            ChatStreamNormalizer(include_usage=False, choice_index=i, response_id=shared_id, emit_terminal=False)
            for i in range(call.n)
        ]
        merger = StreamMerger(include_usage=include_usage)
        body = relay_fanout(responses, normalizers, merger, lambda ns, c: self._stream_done(call, ns, c))
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)

    async def _open_streams(self, payload: bytes, n: int) -> list[httpx.Response]:
        results = await asyncio.gather(*(self._open_stream(payload) for _ in range(n)), return_exceptions=True)
        opened = [r for r in results if isinstance(r, httpx.Response)]
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            for response in opened:
                await response.aclose()
            raise failure if isinstance(failure, GatewayError) else GatewayError("Upstream fan-out failed")
        return opened

    def _stream_done(self, call: CallRecord, normalizers: Sequence[ChatStreamNormalizer], cancelled: bool) -> None:
        first = normalizers[0]
        self._record(call, [n.usage for n in normalizers], first.model, first.provider)
        call.fields["cancelled"] = cancelled
        errors = [n.error for n in normalizers if n.error is not None]
        if errors:
            call.fields["stream_error"] = errors[0].get("code")
        call.fields["stream_ms"] = round((time.perf_counter() - call.started_at) * 1000, 3)

    @staticmethod
    def _record(
        call: CallRecord, usages: Sequence[Mapping[str, Any] | None], model: Any, provider: Any
    ) -> None:
        call.fields.update(_usage_fields(usages), model_served=model, provider=provider)
