"""The settle stage: one finished call becomes a ledger record, metrics, an access line and a settled reservation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.admission import Limiter, Ticket
from gateway.background import BackgroundTasks
from gateway.metering.ledger import Ledger
from gateway.metering.record import LedgerRecord
from gateway.metrics import Metrics
from gateway.policy.policy import Route
from gateway.resilience.outcome import Attempt, count_fallbacks, count_retries

ROUTE_CHAT = "chat.completions"


@dataclass(slots=True)
class Call:
    """One chat call in flight: its route, its reservation, its record, and its timings."""

    route: Route
    ticket: Ticket
    record: LedgerRecord
    log_fields: dict[str, Any]
    started_at: float = field(default_factory=time.perf_counter)
    upstream_started_at: float | None = None
    first_event_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False

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


class Settler:
    def __init__(self, limiter: Limiter, ledger: Ledger, metrics: Metrics, background: BackgroundTasks) -> None:
        self._limiter = limiter
        self._ledger = ledger
        self._metrics = metrics
        self._background = background

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
    ) -> None:
        """Ends an admitted call, however it ended (success, error, client gone); later calls are no-ops."""
        if call.finished:
            return
        call.finished = True
        now = time.perf_counter()
        record = call.record
        served = served or Served()
        for usage in usages:
            record.add_usage(usage)
        record.cost_usd = round(record.cost_usd + estimated_cost_usd, 10)
        record.status, record.error_type, record.cancelled = status, error_type, cancelled
        record.model_served = served.model or record.model_served
        record.provider, record.generation_id = served.provider, served.generation_id
        record.retries, record.fallbacks = count_retries(call.attempts), count_fallbacks(call.attempts)
        record.latency_ms = round((now - call.started_at) * 1000, 3)
        if call.first_event_at is not None:
            record.ttft_ms = round((call.first_event_at - call.started_at) * 1000, 3)
        upstream_s = now - call.upstream_started_at if call.upstream_started_at is not None else 0.0
        overhead_s = (now - call.started_at) - upstream_s
        self._metrics.observe_call(record, route=ROUTE_CHAT, upstream_s=upstream_s, overhead_s=overhead_s)
        call.log_fields.update(
            model_served=record.model_served, provider=record.provider, generation_id=record.generation_id,
            prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
            cost_usd=record.cost_usd, retries=record.retries, fallbacks=record.fallbacks,
            cancelled=cancelled or None, ttft_ms=record.ttft_ms,
        )
        self._background.spawn(self._persist(call.ticket, record))

    async def _persist(self, ticket: Ticket, record: LedgerRecord) -> None:
        tokens = record.prompt_tokens + record.completion_tokens
        if record.cost_usd > 0 or tokens > 0:
            model = record.model_served or record.model_routed
            await self._limiter.settle(ticket, model=model, cost_usd=record.cost_usd, tokens=tokens)
        else:
            await self._limiter.release(ticket)
        await self._ledger.append(record)
