"""The limits stage: one atomic admission per request (rate limits + budget reservation), then settle or release."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from gateway.alerts import AlertNotifier
from gateway.auth.principal import Principal
from gateway.background import BackgroundTasks
from gateway.errors import BudgetExceededError, GatewayError, RateLimitError
from gateway.estimate import CostEstimate
from gateway.limits.backend import LimiterBackend
from gateway.limits.periods import periods_at
from gateway.limits.types import Admission, AdmissionRequest, Budget, KeyLimits, RateLimits, Settlement
from gateway.metrics import Metrics
from gateway.policy.compiler import OrgSettings

log = structlog.get_logger(__name__)

_REASON_TEXT = {
    "org_rpm": "requests per minute for your organization",
    "org_tpm": "tokens per minute for your organization",
    "org_concurrency": "concurrent requests for your organization",
    "subject_rpm": "requests per minute for your user",
    "subject_tpm": "tokens per minute for your user",
    "subject_concurrency": "concurrent requests for your user",
    "key_rpm": "requests per minute for your API key",
    "key_tpm": "tokens per minute for your API key",
    "org_rps": "requests per second for your organization",
    "subject_rps": "requests per second for your user",
}
_BUDGET_TEXT = {
    "daily_budget": "Your organization's daily budget",
    "monthly_budget": "Your organization's monthly budget",
    "key_daily_budget": "Your API key's daily budget",
    "key_monthly_budget": "Your API key's monthly budget",
}


@dataclass(slots=True)
class Ticket:
    """An admitted request's reservation; exactly one of settle/release ends it."""

    call_id: str
    org: str
    subject: str
    estimate: CostEstimate
    copies: int
    budget: Budget
    admission: Admission
    finished: bool = field(default=False)
    key_id: str | None = None  # the API key it was admitted under
    totalled_tags: tuple[str, ...] = ()  # the policy's `totals.tags`, when the call was admitted
    tag_retention_s: float = 0.0

    def rate_headers(self) -> dict[str, str]:
        return self.admission.headers()


class Limiter:
    def __init__(
        self,
        backend: LimiterBackend,
        notifier: AlertNotifier,
        metrics: Metrics,
        *,
        reservation_ttl_s: float,
        background: BackgroundTasks | None = None,
    ) -> None:
        self._backend = backend
        self._notifier = notifier
        self._metrics = metrics
        self._reservation_ttl_s = reservation_ttl_s
        self._background = background
        # (org, refusal reason, period key) whose 100 % alert this process already asked for: a budget that is
        # exhausted refuses every call until the period ends, and each must not cost another round trip.
        self._exhausted_asked: set[tuple[str, str, str]] = set()
        self.budgets: dict[str, Budget] = {}  # orgs with a budget seen by this process, for the utilisation gauge

    @property
    def backend(self) -> LimiterBackend:
        return self._backend

    async def admit(self, principal: Principal, org: OrgSettings, estimate: CostEstimate, copies: int) -> Ticket:
        """Reserve `copies` × the worst case (n>1 fans out) or raise 429 with the headers that explain it."""
        budget = Budget(daily_usd=org.daily_budget_usd, monthly_usd=org.monthly_budget_usd)
        if budget.daily_usd is not None or budget.monthly_usd is not None:
            self.budgets[principal.org] = budget
        request = AdmissionRequest(
            request_id=os.urandom(16).hex(),  # never the client's x-request-id: a reused id must not bypass limits
            org=principal.org,
            subject=principal.subject,
            org_limits=RateLimits(rpm=org.rpm, tpm=org.tpm, max_concurrent=org.max_concurrent, burst=org.burst,
                                  rps=org.rps),
            subject_limits=RateLimits(
                rpm=org.subject_rpm, tpm=org.subject_tpm, max_concurrent=org.subject_max_concurrent,
                burst=org.subject_burst, rps=org.subject_rps,
            ),
            budget=budget,
            tokens=estimate.tokens * copies,
            reserve_usd=estimate.worst_case_usd * copies,
            reservation_ttl_s=self._reservation_ttl_s,
            key=_key_limits(principal),
        )
        try:
            admission = await self._backend.admit(request)
        except GatewayError:
            self._metrics.store_error("limiter", "admit")
            raise
        if not admission.allowed:
            headers = admission.headers()
            if admission.budget_exhausted:
                period = "daily" if admission.reason.endswith("daily_budget") else "monthly"
                self._metrics.budget_rejected(principal.org, period)
                await self._alert_exhausted(principal.org, admission.reason, budget, request.reserve_usd)
                raise BudgetExceededError(
                    f"{_BUDGET_TEXT.get(admission.reason, 'Your budget')} is exhausted; it resets in "
                    f"{headers.get('retry-after', '?')} seconds.", headers=headers,
                )
            self._metrics.rate_limited(principal.org, admission.reason)
            raise RateLimitError(f"Rate limit reached for {_REASON_TEXT.get(admission.reason, admission.reason)}.",
                                 headers=headers)
        return Ticket(request.request_id, principal.org, principal.subject, estimate, copies, budget, admission,
                      key_id=principal.key.id if principal.key is not None else None,
                      totalled_tags=org.totalled_tags, tag_retention_s=org.tag_retention_s)

    async def _alert_exhausted(self, org: str, reason: str, budget: Budget, reserve_usd: float) -> None:
        """The 100 % alert of a budget that refused a call (alerts otherwise come only from settlement, so a
        budget refusing at 99.1 % spent would never report 100 %). Once per period: the store decides across
        replicas; this process asks once per org and period. The webhook is sent in the background."""
        periods = periods_at(time.time())
        asked = (org, reason, periods.day if reason == "daily_budget" else periods.month)
        if asked in self._exhausted_asked:
            return
        if len(self._exhausted_asked) > 100_000:
            self._exhausted_asked.clear()  # bounded: a past period's entries are never asked for again
        self._exhausted_asked.add(asked)
        try:
            alerts = await self._backend.refusal_alerts(org, budget, reserve_usd)
        except GatewayError:
            self._exhausted_asked.discard(asked)
            self._metrics.store_error("limiter", "refusal_alerts")
            return
        if not alerts:
            return
        if self._background is not None:
            self._background.spawn(self._notifier.notify(alerts))
        else:
            await self._notifier.notify(alerts)

    async def settle(
        self, ticket: Ticket, *, model: str, cost_usd: float, tokens: int, tags: Mapping[str, str] | None = None
    ) -> None:
        """Replace the reservation by the actual cost; never raises into the request path.

        `tags` are the call's tags; those the policy totals (`totals.tags`) are counted in the same step.
        """
        if ticket.finished:
            return
        ticket.finished = True
        totalled = {name: value for name, value in (tags or {}).items() if name in ticket.totalled_tags}
        settlement = Settlement(ticket.call_id, ticket.org, ticket.subject, model, cost_usd, tokens, ticket.budget,
                                key_id=ticket.key_id, tags=totalled, tag_retention_s=ticket.tag_retention_s)
        try:
            alerts = await self._backend.settle(settlement)
        except GatewayError as exc:
            log.error("settle_failed", call_id=ticket.call_id, org=ticket.org, error=exc.message)
            self._metrics.store_error("limiter", "settle")
            return
        if alerts:
            await self._notifier.notify(alerts)

    async def publish_utilisation(self) -> None:
        """Budget utilisation per org and period (spent / effective budget), for the gauge and burn alerts."""
        for org, default in list(self.budgets.items()):
            try:
                summary = await self._backend.spend(org)
                _, override = await self._backend.get_overrides(org)
            except GatewayError:
                self._metrics.store_error("limiter", "spend")
                return
            daily = override.daily_usd if override and override.daily_usd is not None else default.daily_usd
            monthly = override.monthly_usd if override and override.monthly_usd is not None else default.monthly_usd
            if daily:
                self._metrics.budget_utilisation(org, "daily", summary.daily_usd / daily)
            if monthly:
                self._metrics.budget_utilisation(org, "monthly", summary.monthly_usd / monthly)

    async def release(self, ticket: Ticket) -> None:
        """The call failed before anything was billed: free the reservation."""
        if ticket.finished:
            return
        ticket.finished = True
        try:
            await self._backend.release(ticket.call_id, ticket.org, ticket.subject, ticket.key_id)
        except GatewayError as exc:
            log.warning("release_failed", call_id=ticket.call_id, org=ticket.org, error=exc.message)
            self._metrics.store_error("limiter", "release")


def _key_limits(principal: Principal) -> KeyLimits | None:
    key = principal.key
    if key is None:
        return None
    return KeyLimits(key.id, rpm=key.rpm, tpm=key.tpm, daily_usd=key.daily_usd, monthly_usd=key.monthly_usd)
