"""The cache stage of the pipeline: a stored answer costs nothing; a miss goes upstream once however many
identical requests wait on it, and what it answered is stored (JSON whole, a stream once it completed)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.cache.coalesce import Coalescer
from gateway.cache.decision import CACHE_HEADER, HIT, MISS, CacheDecision, decide
from gateway.cache.record import StreamRecorder
from gateway.cache.replay import replay_chat_stream
from gateway.cache.store import CacheStore
from gateway.errors import GatewayError
from gateway.front import Front, Routed
from gateway.metering.capture import chat_choice_output, choice_entries
from gateway.settlement import Call, Served, Settler
from gateway.streaming.frames import SSE_HEADERS

Admit = Callable[[], Awaitable[Call]]  # the pipeline's admission stage for this request
Forward = Callable[[Call], Awaitable[Response]]  # the pipeline's upstream, respond and settle stages


class CacheStage:
    """The store and the single-flight shared by every cached call of this process (chat answers)."""

    def __init__(self, store: CacheStore, front: Front, settler: Settler) -> None:
        self.store = store
        self.coalescer = Coalescer()
        self._front = front
        self._settler = settler

    def decide(self, routed: Routed, request: Request, body: dict[str, Any], endpoint: str) -> CacheDecision | None:
        return decide(routed, request.headers.get(CACHE_HEADER), body, endpoint)

    async def serve(
        self, request: Request, routed: Routed, body: dict[str, Any], decision: CacheDecision, endpoint: str,
        admit: Admit, forward: Forward,
    ) -> Response:
        started_at = time.perf_counter()
        stored = await self.store.get(decision.key)
        if stored is not None:
            return self._hit(request, routed, body, stored, started_at, endpoint)
        if body.get("stream"):
            call = await admit()
            call.record.cache = MISS
            response = await forward(call)
            if isinstance(response, StreamingResponse):
                response.body_iterator = self._recording(response.body_iterator, decision)
            response.headers[CACHE_HEADER] = MISS
            return response

        async def produce() -> tuple[bytes, Response] | GatewayError:
            try:
                call = await admit()
            except GatewayError as refused:
                return refused  # this caller's limits said no; each waiter is judged by its own below
            call.record.cache = MISS
            response = await forward(call)
            return bytes(response.body), response

        result, leader = await self.coalescer.run(decision.key, produce)
        if isinstance(result, GatewayError):
            if leader:
                raise result
            return await forward(await admit())
        content, response = result
        if not leader:
            return self._hit(request, routed, body, content, started_at, endpoint)
        await self.store.put(decision.key, content, decision.ttl_s)
        response.headers[CACHE_HEADER] = MISS
        return response

    def _hit(
        self, request: Request, routed: Routed, body: dict[str, Any], content: bytes, started_at: float, endpoint: str
    ) -> Response:
        parsed = orjson.loads(content)
        capture = self._front.capture(request, routed)
        record, fields = self._front.start_record(request, routed, body, endpoint, capture)
        served = Served(parsed.get("model"), parsed.get("provider"), parsed.get("id"))
        record.model_version = served.model
        choices = parsed.get("choices") if isinstance(parsed.get("choices"), list) else []
        record.choices = choice_entries([chat_choice_output(choice, capture.output) for choice in choices],
                                        record.seed, capture) or None
        self._settler.record_hit(record, fields, started_at=started_at, endpoint=endpoint, served=served,
                                 trace_headers=self._front.trace_headers(request))
        route = routed.route
        headers = {"x-gateway-model-requested": route.requested, "x-gateway-model-routed": route.models[0],
                   "x-gateway-model-served": str(served.model or route.models[0]), "x-gateway-cost-usd": "0",
                   CACHE_HEADER: HIT}
        if route.task:
            headers["x-gateway-task"] = route.task
        if not body.get("stream"):
            return Response(content, media_type="application/json", headers=headers)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        replay = replay_chat_stream(parsed, include_usage=include_usage)
        return Response(replay, media_type="text/event-stream", headers={**headers, **SSE_HEADERS})

    async def _recording(self, stream: AsyncIterable[Any], decision: CacheDecision) -> AsyncIterator[Any]:
        """Relay a missed stream and keep its answer when it completed (with usage, so a JSON hit has it too)."""
        recorder = StreamRecorder()
        async for chunk in stream:
            recorder.feed(chunk if isinstance(chunk, bytes) else str(chunk).encode())
            yield chunk
        completion = recorder.completion()
        if completion is not None and completion.get("usage") is not None:
            await self.store.put(decision.key, orjson.dumps(completion), decision.ttl_s)

