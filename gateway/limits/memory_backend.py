"""LimiterBackend in process memory: the same semantics as the Redis scripts, for one process or as fallback.

Nothing here awaits, so each method runs to completion without interleaving: that is the atomicity
the Lua scripts get from Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.limits import gcra
from gateway.limits.clock import Clock, SystemClock
from gateway.limits.memory_state import OrgState, Reservation
from gateway.limits.overrides import (
    BUDGET_FIELDS,
    LIMIT_FIELDS,
    decode_overrides,
    effective_budget,
    effective_limits,
    encode_budget,
    encode_limits,
)
from gateway.limits.periods import Periods, periods_at
from gateway.limits.types import (
    ALERT_THRESHOLDS,
    Admission,
    AdmissionRequest,
    Budget,
    BudgetAlert,
    Period,
    RateLimits,
    Reason,
    Settlement,
    SpendSummary,
    from_nano,
    to_nano,
)

CONCURRENCY_RETRY_MS = 1000.0
DEFAULT_IDEMPOTENCY_TTL_S = 900.0  # as the Redis backend's window


@dataclass
class _Checked:
    key: str
    limit: int
    kind: str  # "requests" | "tokens"
    current: float
    tat: float


@dataclass
class _Verdict:
    reason: Reason = "ok"
    retry_ms: float = 0.0

    def fail(self, reason: Reason, wait_ms: float) -> None:
        if self.reason == "ok" or wait_ms > self.retry_ms:
            self.reason, self.retry_ms = reason, wait_ms


class MemoryLimiterBackend:
    def __init__(self, clock: Clock | None = None, *, idempotency_ttl_s: float = DEFAULT_IDEMPOTENCY_TTL_S) -> None:
        self._clock = clock or SystemClock()
        self._orgs: dict[str, OrgState] = {}
        self._idempotency_ttl_ms = idempotency_ttl_s * 1000

    def _state(self, org: str) -> OrgState:
        return self._orgs.setdefault(org, OrgState())

    def _now_ms(self) -> float:
        return self._clock.time() * 1000

    async def admit(self, request: AdmissionRequest) -> Admission:
        state = self._state(request.org)
        now_ms = self._now_ms()
        state.purge_expired(now_ms)
        inflight = state.subject_inflight(request.subject, now_ms)
        org_limits = effective_limits(state.override, request.org_limits)
        budget = effective_budget(state.override, request.budget)
        verdict = _Verdict()
        checked = self._check_rates(state, request, org_limits, now_ms, verdict)
        if org_limits.max_concurrent is not None and len(state.reservations) >= org_limits.max_concurrent:
            verdict.fail("org_concurrency", CONCURRENCY_RETRY_MS)
        if request.subject_limits.max_concurrent is not None and len(inflight) >= request.subject_limits.max_concurrent:
            verdict.fail("subject_concurrency", CONCURRENCY_RETRY_MS)
        self._check_budget(state, budget, to_nano(request.reserve_usd), periods_at(now_ms / 1000), verdict)
        allowed = verdict.reason == "ok"
        if request.request_id in state.reservations:
            allowed, verdict = True, _Verdict()
        elif allowed:
            for item in checked:
                state.store_tat(item.key, item.tat, now_ms)
                item.current = item.tat
            self._reserve(state, request, org_limits, now_ms)
        return _admission(allowed, verdict, checked, now_ms)

    def _check_rates(
        self, state: OrgState, request: AdmissionRequest, org_limits: RateLimits, now_ms: float, verdict: _Verdict
    ) -> list[_Checked]:
        sub = f"sub:{request.subject}:"
        candidates: list[tuple[str, int | None, int, Reason, str]] = [
            ("rpm", org_limits.rpm, 1, "org_rpm", "requests"),
            ("tpm", org_limits.tpm, request.tokens, "org_tpm", "tokens"),
            (sub + "rpm", request.subject_limits.rpm, 1, "subject_rpm", "requests"),
            (sub + "tpm", request.subject_limits.tpm, request.tokens, "subject_tpm", "tokens"),
        ]
        checked = []
        for key, limit, cost, reason, kind in candidates:
            if limit is None:
                continue
            current = state.tat(key)
            outcome = gcra.check(current, now_ms, limit, cost)
            if not outcome.allowed:
                verdict.fail(reason, outcome.retry_after_ms)
            checked.append(_Checked(key, limit, kind, now_ms if current is None else current, outcome.tat_ms))
        return checked

    @staticmethod
    def _check_budget(state: OrgState, budget: Budget, reserve: int, periods: Periods, verdict: _Verdict) -> None:
        # Budgets beat rate limits as the reason: the client must not retry before the period resets.
        held = state.reserved + reserve
        failed: tuple[Reason, float] | None = None
        if budget.daily_usd is not None and state.spend_by_day.get(periods.day, 0) + held > to_nano(budget.daily_usd):
            failed = ("daily_budget", periods.day_reset_s * 1000)
        monthly = budget.monthly_usd
        if monthly is not None and state.spend_by_month.get(periods.month, 0) + held > to_nano(monthly):
            failed = ("monthly_budget", periods.month_reset_s * 1000)
        if failed is not None:
            verdict.reason = failed[0]
            verdict.retry_ms = max(verdict.retry_ms, failed[1])

    @staticmethod
    def _reserve(state: OrgState, request: AdmissionRequest, org_limits: RateLimits, now_ms: float) -> None:
        expires = now_ms + request.reservation_ttl_s * 1000
        sub_tpm = request.subject_limits.tpm
        state.reservations[request.request_id] = Reservation(
            reserve=to_nano(request.reserve_usd),
            tokens=request.tokens,
            org_interval=gcra.interval_ms(org_limits.tpm) if org_limits.tpm else 0.0,
            subject_interval=gcra.interval_ms(sub_tpm) if sub_tpm else 0.0,
            subject=request.subject,
            expires_ms=expires,
        )
        state.reserved += to_nano(request.reserve_usd)
        state.inflight.setdefault(request.subject, {})[request.request_id] = expires

    async def settle(self, settlement: Settlement) -> list[BudgetAlert]:
        state = self._state(settlement.org)
        now_ms = self._now_ms()
        if not state.mark_settled(settlement.request_id, now_ms, self._idempotency_ttl_ms):
            return []
        state.finish(settlement.request_id, settlement.subject, settlement.tokens, now_ms)
        periods = periods_at(now_ms / 1000)
        cost = to_nano(settlement.cost_usd)
        state.spend_by_day[periods.day] = state.spend_by_day.get(periods.day, 0) + cost
        state.spend_by_month[periods.month] = state.spend_by_month.get(periods.month, 0) + cost
        model_key = f"{periods.month}|{settlement.model}"
        state.spend_by_model[model_key] = state.spend_by_model.get(model_key, 0) + cost
        budget = effective_budget(state.override, settlement.budget)
        return [
            *_alerts(state, settlement.org, "daily", periods.day, state.spend_by_day[periods.day], budget.daily_usd),
            *_alerts(
                state, settlement.org, "monthly", periods.month, state.spend_by_month[periods.month], budget.monthly_usd
            ),
        ]

    async def release(self, request_id: str, org: str, subject: str) -> None:
        self._state(org).finish(request_id, subject, 0, self._now_ms())

    async def spend(self, org: str) -> SpendSummary:
        state = self._state(org)
        now_ms = self._now_ms()
        state.purge_expired(now_ms)
        periods = periods_at(now_ms / 1000)
        prefix = periods.month + "|"
        return SpendSummary(
            org=org,
            day=periods.day,
            month=periods.month,
            daily_usd=from_nano(state.spend_by_day.get(periods.day, 0)),
            monthly_usd=from_nano(state.spend_by_month.get(periods.month, 0)),
            reserved_usd=from_nano(state.reserved),
            reservations=len(state.reservations),
            by_model={
                k.removeprefix(prefix): from_nano(v) for k, v in state.spend_by_model.items() if k.startswith(prefix)
            },
            by_day={day: from_nano(v) for day, v in sorted(state.spend_by_day.items())},
        )

    async def set_overrides(self, org: str, limits: RateLimits | None, budget: Budget | None) -> None:
        fields = self._state(org).override
        if limits is not None:
            for name in LIMIT_FIELDS:
                fields.pop(name, None)
            fields.update(encode_limits(limits))
        if budget is not None:
            for name in BUDGET_FIELDS:
                fields.pop(name, None)
            fields.update(encode_budget(budget))

    async def get_overrides(self, org: str) -> tuple[RateLimits | None, Budget | None]:
        return decode_overrides(self._state(org).override)

    async def list_orgs(self) -> list[str]:
        return sorted(org for org, state in self._orgs.items() if state.override)

    async def reset(self, org: str) -> None:
        self._state(org).override.clear()

    async def ping(self) -> bool:
        return True


def _alerts(
    state: OrgState, org: str, period: Period, key: str, spent: int, budget_usd: float | None
) -> list[BudgetAlert]:
    if budget_usd is None:
        return []
    budget = to_nano(budget_usd)
    out = []
    for threshold in ALERT_THRESHOLDS:
        marker = f"{period}:{key}:{threshold}"
        if spent * 100 >= threshold * budget and marker not in state.alerts:
            state.alerts.add(marker)
            out.append(BudgetAlert(org, period, key, threshold, from_nano(spent), from_nano(budget)))
    return out


def _admission(allowed: bool, verdict: _Verdict, checked: list[_Checked], now_ms: float) -> Admission:
    """Headers describe the state after this call, tighter of org and subject (as admit.lua)."""
    trios: dict[str, tuple[int, int, float]] = {}
    for item in checked:
        left = gcra.remaining(item.current, now_ms, item.limit)
        best = trios.get(item.kind)
        if best is None or left < best[1]:
            trios[item.kind] = (item.limit, left, max(item.current - now_ms, 0.0) / 1000)
    req = trios.get("requests")
    tok = trios.get("tokens")
    return Admission(
        allowed=allowed,
        reason=verdict.reason,
        retry_after_s=verdict.retry_ms / 1000,
        requests_limit=req[0] if req else None,
        requests_remaining=req[1] if req else None,
        requests_reset_s=req[2] if req else None,
        tokens_limit=tok[0] if tok else None,
        tokens_remaining=tok[1] if tok else None,
        tokens_reset_s=tok[2] if tok else None,
    )
