"""The chat request path, and the only place that knows the order of its stages.

auth → parse/validate → policy → catalogue → limits (admit) → upstream (JSON or SSE) → response → settle.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.cache.record import StreamRecorder
from gateway.cache.replay import replay_chat_stream
from gateway.cache.response_cache import CACHE_HEADER, HIT, MISS
from gateway.caching import CACHE_REQUEST_HEADER, CacheDecision, ChatCache
from gateway.completions import Completion, merge_completions
from gateway.errors import GatewayError
from gateway.estimate import CostEstimate, estimate_prompt_tokens, plan_completion, route_price
from gateway.front import Front, Routed
from gateway.policy.policy import Policy, Route
from gateway.resilience.outcome import Outcome, attempts_of
from gateway.settings import Settings
from gateway.settlement import ROUTE_CHAT, Call, Served, Settler, cost_header
from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streams import StreamDeadline, relay_fanout, relay_stream
from gateway.upstream.chat import ChatUpstream, Payloads, Plan, Resilience
from gateway.validation import validate_chat_request

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class _StreamEnd:
    """Connects a relayed stream's end to settlement: usage from the final chunk, or an estimate if cut short."""

    def __init__(self, call: Call, settler: Settler, estimate: CostEstimate) -> None:
        self._call = call
        self._settler = settler
        self._estimate = estimate
        self.generation_id: str | None = None  # from the upstream's header: known even if no chunk arrived

    def first_event(self) -> None:
        self._call.first_event()

    def done(self, normalizers: Sequence[ChatStreamNormalizer], cancelled: bool) -> None:
        # Without usage the prompt was still billed (a stream cut before its first token too): estimate it all.
        estimated = sum(self._estimate.cost_of(n.completion_chars) for n in normalizers if n.usage is None)
        errors = [n.error for n in normalizers if n.error is not None]
        first = normalizers[0]
        self._call.log_fields["stream_error"] = errors[0].get("code") if errors else None
        self._settler.finish(
            self._call,
            status=200,
            usages=[n.usage for n in normalizers],
            served=Served(first.model, first.provider, first.generation_id or self.generation_id),
            error_type=str(errors[0].get("type")) if errors else None,
            estimated_cost_usd=estimated,
            cancelled=cancelled,
        )


class ChatProxy:
    def __init__(
        self,
        settings: Settings,
        front: Front,
        upstream: ChatUpstream,
        resilience: Resilience,
        settler: Settler,
        cache: ChatCache,
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._front = front
        self._upstream = upstream
        self._resilience = resilience
        self._settler = settler

    async def chat_completions(self, request: Request) -> Response:
        principal, body = await self._front.open(request)
        validate_chat_request(body, max_n=self._settings.max_n)
        routed = await self._front.route(principal, body)
        routed.policy.apply_params(body, routed.route)
        estimate = self._estimate(body, routed)
        decision = self._cache.decide(routed, request.headers.get(CACHE_REQUEST_HEADER), body)
        if decision is not None:
            return await self._through_cache(request, routed, body, estimate, decision)
        call = await self._front.admit(request, routed, body, estimate, copies=int(body.get("n") or 1))
        return await self._forward(routed, body, call, estimate)

    async def _forward(self, routed: Routed, body: dict[str, Any], call: Call, estimate: CostEstimate) -> Response:
        """Upstream and back: an admitted call always ends in the Settler, however it ends."""
        n = call.record.n
        plan = self._resilience.plan(routed.policy, routed.route)
        self._shape_body(body, routed.route, routed.policy)
        try:
            if call.record.stream:
                return await self._stream(Payloads(body), plan, call, estimate, body)
            return await self._complete(Payloads(body), plan, call, n)
        except GatewayError as exc:
            call.note_attempts(attempts_of(exc))
            self._settler.finish(call, status=exc.status, error_type=exc.type)
            raise

    async def _through_cache(
        self, request: Request, routed: Routed, body: dict[str, Any], estimate: CostEstimate, decision: CacheDecision
    ) -> Response:
        """A stored answer costs nothing; a miss goes upstream once however many identical requests wait on it."""
        started_at = time.perf_counter()
        stored = await self._cache.store.get(decision.key)
        if stored is not None:
            return self._cache_hit(request, routed, body, stored, started_at)
        copies = int(body.get("n") or 1)
        if body.get("stream"):
            call = await self._front.admit(request, routed, body, estimate, copies=copies)
            call.record.cache = MISS
            response = await self._forward(routed, body, call, estimate)
            if isinstance(response, StreamingResponse):
                response.body_iterator = self._recording(response.body_iterator, decision)
            response.headers[CACHE_HEADER] = MISS
            return response

        async def produce() -> tuple[bytes, Response] | GatewayError:
            try:
                call = await self._front.admit(request, routed, body, estimate, copies=copies)
            except GatewayError as refused:
                return refused  # this caller's limits said no; each waiter is judged by its own below
            call.record.cache = MISS
            response = await self._forward(routed, body, call, estimate)
            return bytes(response.body), response

        result, leader = await self._cache.coalescer.run(decision.key, produce)
        if isinstance(result, GatewayError):
            if leader:
                raise result
            call = await self._front.admit(request, routed, body, estimate, copies=copies)
            return await self._forward(routed, body, call, estimate)
        content, response = result
        if not leader:
            return self._cache_hit(request, routed, body, content, started_at)
        await self._cache.store.put(decision.key, content, decision.ttl_s)
        response.headers[CACHE_HEADER] = MISS
        return response

    def _cache_hit(
        self, request: Request, routed: Routed, body: dict[str, Any], content: bytes, started_at: float
    ) -> Response:
        parsed = orjson.loads(content)
        record, fields = self._front.start_record(request, routed, body)
        served = Served(parsed.get("model"), parsed.get("provider"), parsed.get("id"))
        self._settler.record_hit(record, fields, started_at=started_at, endpoint=ROUTE_CHAT, served=served)
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
        return Response(replay, media_type="text/event-stream", headers={**headers, **_SSE_HEADERS})

    async def _recording(self, stream: AsyncIterable[Any], decision: CacheDecision) -> AsyncIterator[Any]:
        """Relay a missed stream and keep its answer when it completed (with usage, so a JSON hit has it too)."""
        recorder = StreamRecorder()
        async for chunk in stream:
            recorder.feed(chunk if isinstance(chunk, bytes) else str(chunk).encode())
            yield chunk
        completion = recorder.completion()
        if completion is not None and completion.get("usage") is not None:
            await self._cache.store.put(decision.key, orjson.dumps(completion), decision.ttl_s)

    @staticmethod
    def _shape_body(body: dict[str, Any], route: Route, policy: Policy) -> None:
        if body.get("n", 1) != 1:
            body.pop("n")  # OpenRouter ignores n: the gateway fans out n single-choice calls instead
        if policy.document.upstream_fallbacks == "native" and len(route.models) > 1 and "models" not in body:
            body["models"] = list(route.models[1:])  # let OpenRouter walk the fallbacks itself

    @staticmethod
    def _estimate(body: dict[str, Any], routed: Routed) -> CostEstimate:
        """Worst case for the reservation, priced at the dearest model that may answer."""
        price = route_price(routed.snapshot, routed.priced_models, routed.org)
        prompt_tokens = estimate_prompt_tokens(body)
        completion = plan_completion(body, keys=("max_completion_tokens", "max_tokens"), route=routed.route,
                                     snapshot=routed.snapshot, org=routed.org, prompt_tokens=prompt_tokens, price=price)
        return CostEstimate(prompt_tokens=prompt_tokens, completion_tokens=completion, price=price)

    async def _complete(self, payloads: Payloads, plan: Plan, call: Call, n: int) -> Response:
        call.upstream_started_at = time.perf_counter()
        if n == 1:
            outcomes: list[Outcome[Completion]] = [await self._upstream.complete(payloads, plan)]
        else:
            results = await self._upstream.complete_many(payloads, plan, n)
            outcomes = [r for r in results if isinstance(r, Outcome)]
            failure = next((r for r in results if isinstance(r, GatewayError)), None)
            if failure is not None:
                # What the successful choices cost is billed even though the request as a whole failed.
                call.note_attempts(a for o in outcomes for a in o.attempts)
                self._settler.finish(call, status=failure.status, error_type=failure.type,
                                     usages=[o.value.usage for o in outcomes])
                raise failure
        parts = [outcome.value for outcome in outcomes]
        call.note_attempts(a for o in outcomes for a in o.attempts)
        first = parts[0]
        self._settler.finish(call, status=200, usages=[p.usage for p in parts], served=Served(
            first.parsed.get("model"), first.parsed.get("provider"), first.generation_id))
        headers = call.response_headers()
        headers["x-gateway-cost-usd"] = cost_header(call.record.cost_usd)
        headers["x-gateway-model-served"] = str(first.parsed.get("model") or call.route.models[0])
        if first.generation_id:
            headers["x-generation-id"] = first.generation_id
        body = first.body if n == 1 else orjson.dumps(merge_completions(parts))
        return Response(body, media_type="application/json", headers=headers)

    async def _stream(
        self, payloads: Payloads, plan: Plan, call: Call, estimate: CostEstimate, body: dict[str, Any]
    ) -> Response:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        deadline = StreamDeadline(plan.deadline_s)
        observer = _StreamEnd(call, self._settler, estimate)
        headers = {**call.response_headers(), **_SSE_HEADERS}
        call.upstream_started_at = time.perf_counter()
        if call.record.n == 1:
            outcome = await self._upstream.open_stream(payloads, plan)
            call.note_attempts(outcome.attempts)
            headers["x-gateway-model-served"] = outcome.model_used
            if generation_id := outcome.value.headers.get("x-generation-id"):
                headers["x-generation-id"] = observer.generation_id = generation_id
            normalizer = ChatStreamNormalizer(include_usage=include_usage)
            stream = relay_stream(outcome.value, normalizer, deadline, observer)
            return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
        outcomes = await self._upstream.open_streams(payloads, plan, call.record.n)
        call.note_attempts(a for o in outcomes for a in o.attempts)
        shared_id = f"chatcmpl-{uuid.uuid4().hex}"
        normalizers = [
            ChatStreamNormalizer(include_usage=False, choice_index=i, response_id=shared_id, emit_terminal=False)
            for i in range(call.record.n)
        ]
        merger = StreamMerger(include_usage=include_usage)
        stream = relay_fanout([o.value for o in outcomes], normalizers, merger, deadline, observer)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
