"""The settle stage: one finished call becomes a ledger record, metrics, an access line and a settled reservation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.background import BackgroundTasks
from gateway.limits.limiter import Limiter, Ticket
from gateway.metering.capture import Capture, ChoiceOutput, choice_entries
from gateway.metering.ledger import Ledger
from gateway.metering.record import LedgerRecord
from gateway.metering.tracing import CallTracer
from gateway.metrics import Metrics
from gateway.policy.policy import Route
from gateway.reconcile import GenerationReconciler
from gateway.resilience.outcome import OK_STATUS, Attempt, count_fallbacks, count_retries

log = structlog.get_logger(__name__)


def cost_header(cost: float) -> str:
    """`x-gateway-cost-usd`: plain decimal USD, no exponent, no trailing zeros."""
    return f"{cost:.10f}".rstrip("0").rstrip(".") or "0"


@dataclass(slots=True)
class Call:
    """One admitted model call in flight, of any API: its route, its reservation, its record, and its timings."""

    route: Route
    ticket: Ticket
    record: LedgerRecord
    log_fields: dict[str, Any]
    endpoint: str  # the API, as metrics and traces label it ("chat.completions", "responses", "embeddings")
    started_at: float = field(default_factory=time.perf_counter)
    upstream_started_at: float | None = None
    first_event_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    trace_headers: Mapping[str, str] | None = None  # the caller's W3C trace context, when tracing is on
    upstream_headers: Mapping[str, str] | None = None  # the app's own attribution, when it may replace the gateway's
    capture: Capture = field(default_factory=Capture)  # which texts the record keeps (policy, settings, header)
    prompt: Any = None  # the prompt as the record read it: masked out of an error message unless it is captured

    def response_headers(self) -> dict[str, str]:
        headers = {"x-gateway-model-requested": self.route.requested, "x-gateway-model-routed": self.route.models[0]}
        if self.route.task:
            headers["x-gateway-task"] = self.route.task
        headers.update(self.ticket.rate_headers())
        return headers

    def note_attempts(self, attempts: Iterable[Attempt]) -> None:
        self.attempts.extend(attempts)

    def first_event(self) -> None:
        if self.first_event_at is None:
            self.first_event_at = time.perf_counter()


@dataclass(frozen=True, slots=True)
class Served:
    """What the upstream said about who answered."""

    model: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    system_fingerprint: str | None = None


def _histories(attempts: list[Attempt]) -> list[list[Attempt]]:
    """Split a call's attempts into one history per upstream response: a success ends a history.

    With n > 1 the proxy notes the attempts of all n fanned-out calls one after another; counted as one history,
    choice 2's first attempt would look like a retry of choice 1's successful one.
    """
    histories: list[list[Attempt]] = [[]]
    for attempt in attempts:
        histories[-1].append(attempt)
        if attempt.status == OK_STATUS:
            histories.append([])
    return histories


def _log_fields(call: Call, *, pending: bool) -> None:
    """The access line's view of the call; a call still being reconciled says so and logs `call_reconciled` later."""
    record = call.record
    call.log_fields.update(
        model_served=record.model_served, provider=record.provider, generation_id=record.generation_id,
        prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
        cost_usd=record.cost_usd, retries=record.retries, fallbacks=record.fallbacks,
        cancelled=record.cancelled or None, ttft_ms=record.ttft_ms,
        cost_source="pending" if pending else record.cost_source,
    )


@dataclass(frozen=True, slots=True)
class _Timings:
    upstream_s: float
    overhead_s: float
    endpoint: str
    ended_ns: int  # wall clock, for the trace span: a reconciled call is observed seconds after it ended
    trace_headers: Mapping[str, str] | None  # the caller's trace context: the span becomes its child


class Settler:
    """Settles, meters and records calls. A stream cut before its usage chunk is reconciled with OpenRouter's bill
    (`/generation`) in the background before it is settled, so the ledger, metrics and budgets carry the billed
    figure rather than an estimate; without a generation id, or if the lookup fails, the estimate stands."""

    def __init__(
        self,
        limiter: Limiter,
        ledger: Ledger,
        metrics: Metrics,
        background: BackgroundTasks,
        reconciler: GenerationReconciler | None = None,
        tracer: CallTracer | None = None,
    ) -> None:
        self._limiter = limiter
        self._ledger = ledger
        self._metrics = metrics
        self._background = background
        self._reconciler = reconciler
        self._tracer = tracer

    def finish(
        self,
        call: Call,
        *,
        status: int,
        usages: Iterable[Mapping[str, Any] | None] = (),
        served: Served | None = None,
        error_type: str | None = None,
        estimated_cost_usd: float = 0.0,
        cancelled: bool = False,
        error_message: str | None = None,
        outputs: Sequence[ChoiceOutput] = (),
    ) -> None:
        """Ends an admitted call, however it ended (success, error, client gone); later calls are no-ops.

        `usages` has one entry per upstream response (choice), None where a stream ended without usage;
        `estimated_cost_usd` is what those cut streams are estimated to have cost; `outputs` has one entry per
        choice answered (its finish reason, and its text when the call captures output).
        """
        if call.finished:
            return
        call.finished = True
        self._metrics.call_finished()
        now = time.perf_counter()
        record = call.record
        served = served or Served()
        usages = list(usages)
        for usage in usages:
            record.add_usage(usage)
        record.status, record.error_type, record.cancelled = status, error_type, cancelled
        record.model_served = served.model or record.model_served
        record.provider, record.generation_id = served.provider, served.generation_id
        record.model_version, record.system_fingerprint = served.model, served.system_fingerprint
        record.fail(error_message, None if call.capture.prompt else call.prompt)
        if outputs:
            record.choices = choice_entries(outputs, record.seed, call.capture)
        histories = _histories(call.attempts)
        record.retries = sum(count_retries(history) for history in histories)
        record.fallbacks = sum(count_fallbacks(history) for history in histories)
        record.latency_ms = round((now - call.started_at) * 1000, 3)
        if call.first_event_at is not None:
            record.ttft_ms = round((call.first_event_at - call.started_at) * 1000, 3)
        upstream_s = now - call.upstream_started_at if call.upstream_started_at is not None else 0.0
        timings = _Timings(upstream_s=upstream_s, overhead_s=(now - call.started_at) - upstream_s,
                           endpoint=call.endpoint, ended_ns=time.time_ns(), trace_headers=call.trace_headers)
        missing = record.stream and any(usage is None for usage in usages)
        generation_id = self._reconcilable(usages, served) if missing else None
        if not missing:
            record.cost_source = "usage"
        elif generation_id is None:
            self._estimate(record, estimated_cost_usd)
        _log_fields(call, pending=generation_id is not None)
        if generation_id is not None and self._reconciler is not None:
            self._background.spawn(self._reconcile(self._reconciler, call.ticket, record, timings, generation_id,
                                                   estimated_cost_usd))
        else:
            self._observe(record, timings)
            self._background.spawn(self._persist(call.ticket, record))

    def record_hit(
        self, record: LedgerRecord, log_fields: dict[str, Any], *, started_at: float, endpoint: str, served: Served,
        trace_headers: Mapping[str, str] | None = None,
    ) -> None:
        """A cached answer: no reservation, no spend, but a ledger record and metrics like any other call."""
        record.cache, record.status, record.cost_usd = "hit", 200, 0.0
        record.model_served, record.provider = served.model, served.provider
        record.latency_ms = round((time.perf_counter() - started_at) * 1000, 3)
        self._metrics.observe_call(record, route=endpoint, upstream_s=0.0, overhead_s=record.latency_ms / 1000)
        if self._tracer is not None:
            self._tracer.record(record, route=endpoint, trace_headers=trace_headers)
        log_fields.update(cache="hit", model_served=record.model_served, cost_usd=0.0)
        self._background.spawn(self._ledger.append(record))

    def _reconcilable(self, usages: list[Mapping[str, Any] | None], served: Served) -> str | None:
        # `Served` carries the first response's generation id only, so only a lone cut first stream (n=1, or the
        # first of n) can be looked up; with other choices cut too their ids are unknown and the estimate stands.
        if self._reconciler is None or not self._reconciler.enabled or not served.generation_id:
            return None
        if usages and usages[0] is None and all(usage is not None for usage in usages[1:]):
            return served.generation_id
        return None

    @staticmethod
    def _estimate(record: LedgerRecord, estimated_cost_usd: float) -> None:
        record.cost_usd = round(record.cost_usd + estimated_cost_usd, 10)
        record.cost_source = "estimate"

    async def _reconcile(
        self, reconciler: GenerationReconciler, ticket: Ticket, record: LedgerRecord, timings: _Timings,
        generation_id: str, estimated_cost_usd: float,
    ) -> None:
        usage = await reconciler.lookup(generation_id)
        if usage is None:
            self._estimate(record, estimated_cost_usd)
        else:
            record.add_usage(usage)
            record.cost_source = "generation"
        log.info("call_reconciled", request_id=record.request_id, generation_id=generation_id,
                 cost_source=record.cost_source, cost_usd=record.cost_usd, estimated_cost_usd=estimated_cost_usd,
                 prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens)
        self._observe(record, timings)
        await self._persist(ticket, record)

    def _observe(self, record: LedgerRecord, timings: _Timings) -> None:
        self._metrics.observe_call(record, route=timings.endpoint, upstream_s=timings.upstream_s,
                                   overhead_s=timings.overhead_s)
        if self._tracer is not None:
            self._tracer.record(record, route=timings.endpoint, end_ns=timings.ended_ns,
                                trace_headers=timings.trace_headers)

    async def _persist(self, ticket: Ticket, record: LedgerRecord) -> None:
        tokens = record.prompt_tokens + record.completion_tokens
        if record.cost_usd > 0 or tokens > 0:
            model = record.model_served or record.model_routed
            await self._limiter.settle(ticket, model=model, cost_usd=record.cost_usd, tokens=tokens, tags=record.tags)
        else:
            await self._limiter.release(ticket)
        await self._ledger.append(record)
