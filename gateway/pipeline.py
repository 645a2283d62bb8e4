"""The request pipeline: the one place that knows the order of the stages, for every model endpoint.

    authenticate → parse → validate → route → apply params → estimate → cache → admit → upstream → respond → settle

What differs between chat completions, Responses and embeddings is asked of the API's adapter
(`gateway.apis.adapter.ApiAdapter`); everything else happens here, the same way for every API. An admitted call
is settled in one `try/finally`: attempts, fallbacks and errors are recorded alike whatever the API and however
the call ends; a stream hands its settlement to its end (`streaming.relay`), which runs however the stream ends.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.apis.adapter import Answer, ApiAdapter
from gateway.cache.stage import CacheStage
from gateway.errors import GatewayError, UpstreamAccountError
from gateway.estimate import CostEstimate
from gateway.front import Front, Routed
from gateway.middleware import Endpoint
from gateway.resilience.outcome import Outcome
from gateway.settlement import Call, Served, Settler, cost_header
from gateway.streaming.drain import StreamDrain
from gateway.streaming.frames import SSE_HEADERS
from gateway.streaming.relay import StreamDeadline, StreamTracker, relay_fanout, relay_stream
from gateway.upstream.account_alarm import AccountAlarm
from gateway.upstream.exchange import UpstreamExchange
from gateway.upstream.plan import Payloads, Resilience


class _StreamEnd:
    """Connects a relayed stream's end to settlement: usage from the final event, or an estimate if cut short."""

    def __init__(
        self, call: Call, settler: Settler, estimate: CostEstimate, generation_id: str | None, alarm: AccountAlarm
    ) -> None:
        self._alarm = alarm
        self._call = call
        self._settler = settler
        self._estimate = estimate
        self._generation_id = generation_id  # from the upstream's header: known even if no event arrived

    def first_event(self) -> None:
        self._call.first_event()

    def done(self, trackers: Sequence[StreamTracker], cancelled: bool) -> None:
        # Without usage the prompt was still billed (a stream cut before its first token too): estimate it all.
        estimated = sum(self._estimate.cost_of(t.completion_chars) for t in trackers if t.usage is None)
        error = next((t.error for t in trackers if t.error is not None), None)
        first = trackers[0]
        self._call.log_fields["stream_error"] = error.get("code") if error else None
        if error is not None and error.get("code") == UpstreamAccountError.code:
            self._alarm.refused("in_stream")
        self._settler.finish(
            self._call, status=200, usages=[t.usage for t in trackers],
            served=Served(first.model, first.provider, first.generation_id or self._generation_id,
                          first.system_fingerprint),
            error_type=str(error.get("type") or "api_error") if error else None,
            error_message=str(error.get("message") or "") if error else None,
            estimated_cost_usd=estimated, cancelled=cancelled, outputs=[t.choice_output() for t in trackers],
        )


class Pipeline:
    def __init__(
        self,
        front: Front,
        cache: CacheStage,
        resilience: Resilience,
        upstream: UpstreamExchange,
        settler: Settler,
        drain: StreamDrain,
        alarm: AccountAlarm,
    ) -> None:
        self._alarm = alarm
        self._drain = drain
        self._front = front
        self._cache = cache
        self._resilience = resilience
        self._upstream = upstream
        self._settler = settler

    def endpoint(self, api: ApiAdapter) -> Endpoint:
        """The endpoint that serves `api` through the pipeline (a partial: no extra frame per request)."""
        return functools.partial(self.handle, api=api)

    async def handle(self, request: Request, api: ApiAdapter) -> Response:
        principal, body = await self._front.open(request)  # authenticate (a bad token: 401 whatever the body), parse
        api.validate(body)
        routed = await self._front.route(principal, body)  # policy, then catalogue: unknown models never go upstream
        api.apply_params(body, routed)
        estimate = api.estimate(body, routed)
        if api.cacheable:
            decision = self._cache.decide(routed, request, body, api.endpoint)
            if decision is not None:
                return await self._cache.serve(
                    request, routed, body, decision, api.endpoint,
                    lambda: self._front.admit(request, routed, api.record_view(body), estimate, api.endpoint),
                    lambda call: self._forward(api, routed, body, call, estimate),
                )
        # One atomic step (rate limits + the reservation of n × the estimate), or a 429.
        call = await self._front.admit(request, routed, api.record_view(body), estimate, api.endpoint)
        return await self._forward(api, routed, body, call, estimate)

    async def _forward(
        self, api: ApiAdapter, routed: Routed, body: dict[str, Any], call: Call, estimate: CostEstimate
    ) -> Response:
        """Upstream, respond, settle: an admitted call always ends in the Settler, however it ends.

        Until told otherwise it ended in an unexpected failure; `_respond` settles an answer itself (its headers
        state the cost), after which the `finally` is a no-op; a stream's end settles the stream.
        """
        status, error_type, cancelled = 500, "api_error", False
        error_message: str | None = "The gateway failed unexpectedly"
        usages: list[Mapping[str, Any] | None] = []
        handed_to_stream = False
        try:
            plan = self._resilience.plan(routed.policy, routed.route)
            api.shape_upstream(body, routed)
            # With n > 1 and a seed, copy i is sent with seed + i: seeded samples must differ, not repeat.
            payloads = Payloads(body, call.upstream_headers).copies(call.record.n)
            call.upstream_started_at = time.perf_counter()
            if call.record.stream:
                try:
                    streams = await self._upstream.open_streams(api.upstream_path, payloads, plan)
                except GatewayError as exc:
                    call.note_attempts(exc.attempts)
                    raise
                call.note_attempts(streams[0].attempts if len(streams) == 1 else
                                   [a for o in streams for a in o.attempts])
                handed_to_stream = True
                return self._stream(api, body, call, estimate, streams, StreamDeadline(plan.deadline_s))
            read = functools.partial(api.read_answer, estimate=estimate, capture_output=call.capture.output)
            results = await self._upstream.complete_many(api.upstream_path, payloads, plan, read)
            call.note_attempts(results[0].attempts if len(results) == 1 else
                               [a for result in results for a in result.attempts])
            answered = [result for result in results if isinstance(result, Outcome)]
            failure = next((result for result in results if isinstance(result, GatewayError)), None)
            if failure is not None:
                usages = [o.value.usage for o in answered]  # what the answered copies cost is billed anyway
                raise failure
            return self._respond(api, call, answered)
        except GatewayError as exc:
            status, error_type, error_message = exc.status, exc.type, exc.message
            if isinstance(exc, UpstreamAccountError):
                self._alarm.refused(exc.reason)
            raise
        except asyncio.CancelledError:
            status, error_type, cancelled, error_message = 499, "cancelled", True, "The client went away"
            raise
        finally:
            if not handed_to_stream:
                self._settler.finish(call, status=status, error_type=error_type, usages=usages, cancelled=cancelled,
                                     error_message=error_message)

    def _respond(self, api: ApiAdapter, call: Call, outcomes: list[Outcome[Answer]]) -> Response:
        first = outcomes[0]
        served = first.value.served
        model = served.model or first.model_used
        call.record.model_served = first.model_used  # unless the answer names the model that served it
        self._settler.finish(call, status=200, usages=[o.value.usage for o in outcomes], served=served,
                             outputs=[output for o in outcomes for output in o.value.outputs])
        headers = call.response_headers()
        headers["x-gateway-cost-usd"] = cost_header(call.record.cost_usd)
        headers["x-gateway-model-served"] = model
        if served.generation_id:
            headers["x-generation-id"] = served.generation_id
        return Response(api.merge([o.value for o in outcomes]), media_type="application/json", headers=headers)

    def _stream(
        self, api: ApiAdapter, body: dict[str, Any], call: Call, estimate: CostEstimate,
        streams: list[Outcome[httpx.Response]], deadline: StreamDeadline,
    ) -> Response:
        first = streams[0]
        headers = {**call.response_headers(), **SSE_HEADERS, "x-gateway-model-served": first.model_used}
        generation_id = first.value.headers.get("x-generation-id") if len(streams) == 1 else None
        if generation_id:
            headers["x-generation-id"] = generation_id
        end = _StreamEnd(call, self._settler, estimate, generation_id, self._alarm)
        trackers = api.trackers(body, len(streams), capture_output=call.capture.output)
        if len(streams) == 1:
            relay = relay_stream(first.value, trackers[0], deadline, end, self._drain)
        else:
            relay = relay_fanout([s.value for s in streams], trackers, api.merger(body), deadline, end,
                                 self._drain)
        return StreamingResponse(relay, media_type="text/event-stream", headers=headers)
