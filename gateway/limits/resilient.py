"""What happens when Redis is away: fail closed (503) or open (local limits), and never lose a settlement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from gateway.errors import ServiceUnavailableError
from gateway.limits.backend import LimiterBackend
from gateway.limits.clock import Clock, SystemClock
from gateway.limits.spool import ReplayReport, SettlementSpool
from gateway.limits.store_errors import StoreBusyError
from gateway.limits.types import (
    Admission,
    AdmissionRequest,
    Budget,
    BudgetAlert,
    KeySpend,
    RateLimits,
    RateProbe,
    RateState,
    Settlement,
    SpendSummary,
    TagTotals,
)

FailMode = Literal["closed", "open"]


class ResilientLimiter:
    """A LimiterBackend over a shared `primary` (Redis) with a local `fallback` (in-process).

    closed: admission raises ServiceUnavailableError while the primary is down.
    open: admission falls back to local limits (per process, so N replicas admit up to N × the limits, and
    overrides stored in Redis are not visible); requests admitted locally are settled/released locally too.
    Either way settlements that cannot reach the primary are spooled and `replay_spool()` applies them later;
    releases that cannot reach it are dropped, since the reservation expires on its own.
    After a failure the primary is retried at most every `probe_interval_s`, so an outage costs one
    connection attempt per interval rather than one per request. Admin calls and `spend` always need the primary.
    """

    def __init__(
        self,
        primary: LimiterBackend,
        fallback: LimiterBackend,
        spool: SettlementSpool,
        *,
        fail_mode: FailMode = "closed",
        clock: Clock | None = None,
        probe_interval_s: float = 1.0,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._spool = spool
        self.fail_mode: FailMode = fail_mode
        self._clock = clock or SystemClock()
        self._probe_interval_s = probe_interval_s
        self._healthy = True
        self._down_since = 0.0
        self._local: set[str] = set()  # request ids admitted by the fallback and not yet finished

    @property
    def healthy(self) -> bool:
        """Whether the shared store answered the last time it was asked (for /readyz and a gauge)."""
        return self._healthy

    @property
    def degraded(self) -> bool:
        """Admitting on local limits because the store is down (fail-open only)."""
        return not self._healthy and self.fail_mode == "open"

    @property
    def spool_pending(self) -> bool:
        return self._spool.pending()

    def _mark_down(self) -> None:
        self._healthy = False
        self._down_since = self._clock.time()

    def _try_primary(self) -> bool:
        return self._healthy or self._clock.time() - self._down_since >= self._probe_interval_s

    async def admit(self, request: AdmissionRequest) -> Admission:
        if self._try_primary():
            try:
                admission = await self._primary.admit(request)
            except StoreBusyError:
                raise  # overload, not an outage: local limits would only add more load upstream
            except ServiceUnavailableError:
                self._mark_down()
                if self.fail_mode == "closed":
                    raise
            else:
                self._healthy = True
                return admission
        elif self.fail_mode == "closed":
            raise ServiceUnavailableError("rate limit store unavailable")
        admission = await self._fallback.admit(request)
        if admission.allowed:
            self._local.add(request.request_id)
        return admission

    async def settle(self, settlement: Settlement) -> list[BudgetAlert]:
        """Never raises for an unreachable store: the request already happened, so its cost is spooled."""
        if settlement.request_id in self._local:
            self._local.discard(settlement.request_id)
            # Local spend keeps local budgets honest during the outage; its alerts would be judged on partial
            # spend, so alerts come from the primary when the spool is replayed.
            await self._fallback.settle(settlement)
        if self._try_primary():
            try:
                alerts = await self._primary.settle(settlement)
            except ServiceUnavailableError:
                self._mark_down()
            else:
                self._healthy = True
                return alerts
        await self._spool.append(settlement)
        return []

    async def refusal_alerts(self, org: str, budget: Budget, reserve_usd: float) -> list[BudgetAlert]:
        """From the primary only (like settlement's alerts): local spend during an outage is partial."""
        if not self._try_primary():
            return []
        try:
            alerts = await self._primary.refusal_alerts(org, budget, reserve_usd)
        except ServiceUnavailableError:
            self._mark_down()
            return []
        self._healthy = True
        return alerts

    async def release(self, request_id: str, org: str, subject: str, key_id: str | None = None) -> None:
        if request_id in self._local:
            self._local.discard(request_id)
            await self._fallback.release(request_id, org, subject, key_id)
        if self._try_primary():
            try:
                await self._primary.release(request_id, org, subject, key_id)
            except ServiceUnavailableError:
                self._mark_down()
            else:
                self._healthy = True

    async def replay_spool(self) -> ReplayReport:
        """Apply spooled settlements to the primary (idempotent); raises ServiceUnavailableError if still down."""
        with self._primary_only():
            report = await self._spool.replay(self._primary.settle)
        self._healthy = True
        return report

    @contextmanager
    def _primary_only(self) -> Iterator[None]:
        """Admin calls and spend reads have no local stand-in: record the outage and let the 503 through."""
        try:
            yield
        except ServiceUnavailableError:
            self._mark_down()
            raise

    async def spend(self, org: str) -> SpendSummary:
        with self._primary_only():
            return await self._primary.spend(org)

    async def key_spend(self, org: str, key_id: str) -> KeySpend:
        with self._primary_only():
            return await self._primary.key_spend(org, key_id)

    async def tag_totals(self, org: str, key: str, value: str) -> TagTotals:
        with self._primary_only():
            return await self._primary.tag_totals(org, key, value)

    async def rates(self, probe: RateProbe) -> dict[str, RateState]:
        with self._primary_only():
            return await self._primary.rates(probe)

    async def set_overrides(self, org: str, limits: RateLimits | None, budget: Budget | None) -> None:
        with self._primary_only():
            await self._primary.set_overrides(org, limits, budget)

    async def get_overrides(self, org: str) -> tuple[RateLimits | None, Budget | None]:
        with self._primary_only():
            return await self._primary.get_overrides(org)

    async def list_orgs(self) -> list[str]:
        with self._primary_only():
            return await self._primary.list_orgs()

    async def reset(self, org: str) -> None:
        with self._primary_only():
            await self._primary.reset(org)

    async def ping(self) -> bool:
        up = await self._primary.ping()
        if up:
            self._healthy = True
        else:
            self._mark_down()
        return up
