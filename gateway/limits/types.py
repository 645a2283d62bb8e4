"""Value types of the limits stage: what is asked, what is answered, what is recorded.

Money crosses the Redis boundary as integer nano-dollars (see `to_nano`), so reservations and spend add up
exactly: a float sum such as 20 × 0.05 can land a hair above 1.0 and wrongly reject the last request that fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

NANO_PER_USD = 1_000_000_000

Reason = Literal[
    "ok",
    "org_rpm",
    "org_tpm",
    "org_concurrency",
    "subject_rpm",
    "subject_tpm",
    "subject_concurrency",
    "org_rps",
    "subject_rps",
    "daily_budget",
    "monthly_budget",
    "key_rpm",
    "key_tpm",
    "key_daily_budget",
    "key_monthly_budget",
]
Period = Literal["daily", "monthly"]

BUDGET_REASONS: frozenset[str] = frozenset({"daily_budget", "monthly_budget", "key_daily_budget", "key_monthly_budget"})
ALERT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)


def to_nano(usd: float) -> int:
    """Dollars to integer nano-dollars, rounded to nearest (OpenRouter bills well above 1e-9 USD granularity)."""
    return round(usd * NANO_PER_USD)


def from_nano(nano: int | float) -> float:
    return nano / NANO_PER_USD


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits; None means unlimited. `tpm` counts prompt estimate + reserved completion tokens.

    `burst` is how many requests may start at once out of `rpm` (None: all of them); `rps` is a separate
    requests-per-second limit, checked in the same atomic admission.
    """

    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    burst: int | None = None
    rps: int | None = None


@dataclass(frozen=True)
class Budget:
    """USD budgets per UTC calendar day and month; None means no budget for that period."""

    daily_usd: float | None = None
    monthly_usd: float | None = None


@dataclass(frozen=True)
class KeyLimits:
    """An API key's own limits, checked in the same atomic admission as its org's; None means unlimited.

    The key's budget counts only the key's spend (UTC day and month), on top of the org's budget.
    """

    key_id: str
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None


@dataclass(frozen=True)
class TagTotals:
    """What settled calls carrying one tag (`key` = `value`) cost an org, counted in the settlement's own step."""

    key: str
    value: str
    cost_usd: float = 0.0
    tokens: int = 0
    calls: int = 0


# Which rate limit a `RateProbe` asks about: "org_rpm", "org_tpm", "subject_rpm", "subject_tpm", "key_rpm", "key_tpm".
RateName = Literal["org_rpm", "org_tpm", "subject_rpm", "subject_tpm", "key_rpm", "key_tpm"]


@dataclass(frozen=True)
class RateProbe:
    """Ask how much of some rate limits is left, consuming nothing (`limits` maps a RateName to its limit)."""

    org: str
    subject: str
    key_id: str | None
    limits: dict[RateName, int]


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_s: float  # until fully replenished


@dataclass(frozen=True)
class KeySpend:
    """An API key's spend: today's, this month's and all-time (UTC), held reservations and last settled use."""

    key_id: str
    day: str
    month: str
    daily_usd: float
    monthly_usd: float
    total_usd: float
    reserved_usd: float
    last_used_ms: float | None
    by_day: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AdmissionRequest:
    """One request asking to start.

    `org_limits` and `budget` are the policy defaults; an admin override stored for the org replaces them
    field by field (a field absent from the override keeps the default). `subject_limits` are never overridden.
    `tokens` is consumed from the tpm limits now and corrected to the actual count at settlement.
    `reserve_usd` is the worst-case cost held against both budgets until settle/release, or until
    `reservation_ttl_s` passes (a crashed replica leaks nothing). A zero reservation is admitted unless spend
    already exceeds a budget, so free models keep working until the org is over budget.
    """

    request_id: str
    org: str
    subject: str
    org_limits: RateLimits
    subject_limits: RateLimits
    budget: Budget
    tokens: int
    reserve_usd: float
    reservation_ttl_s: float = 900
    key: KeyLimits | None = None  # the API key the caller used, if any


@dataclass(frozen=True)
class Admission:
    """The verdict and what the client is told about its limits.

    `requests_*` / `tokens_*` describe the tighter of the org and subject limits (fewer remaining), None when
    neither is limited. `*_reset_s` is the time until that limit is fully replenished. On rejection,
    `retry_after_s` is when every failing check would pass (for budgets: seconds until the UTC period resets).
    A request whose `tokens` exceed a tpm limit can never pass; its retry_after is what GCRA computes.
    """

    allowed: bool
    reason: Reason
    retry_after_s: float = 0.0
    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_s: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_s: float | None = None

    @property
    def budget_exhausted(self) -> bool:
        return self.reason in BUDGET_REASONS

    def headers(self) -> dict[str, str]:
        """OpenAI-style `x-ratelimit-*` headers (resets as seconds with an `s` suffix) and `retry-after`."""
        out: dict[str, str] = {}
        trios = (
            ("requests", self.requests_limit, self.requests_remaining, self.requests_reset_s),
            ("tokens", self.tokens_limit, self.tokens_remaining, self.tokens_reset_s),
        )
        for kind, limit, remaining, reset in trios:
            if limit is None or remaining is None or reset is None:
                continue
            out[f"x-ratelimit-limit-{kind}"] = str(limit)
            out[f"x-ratelimit-remaining-{kind}"] = str(remaining)
            out[f"x-ratelimit-reset-{kind}"] = f"{reset:.3f}s"
        if not self.allowed:
            # Retry-After is whole seconds by RFC 9110; round up so a client never retries too early.
            out["retry-after"] = str(max(1, math.ceil(self.retry_after_s)))
        return out


@dataclass(frozen=True)
class Settlement:
    """The actual outcome of an admitted request. `budget` is the policy default (overrides win), used for alerts."""

    request_id: str
    org: str
    subject: str
    model: str
    cost_usd: float
    tokens: int
    budget: Budget = field(default_factory=Budget)
    key_id: str | None = None  # the API key the call was admitted under; its spend is settled with the org's
    # Tags the policy totals (`totals.tags`), counted per org for `tag_retention_s` after their last call.
    tags: dict[str, str] = field(default_factory=dict)
    tag_retention_s: float = 0.0


@dataclass(frozen=True)
class BudgetAlert:
    """A budget threshold (percent) newly crossed in a period; reported once per threshold per period."""

    org: str
    period: Period
    period_key: str
    threshold: int
    spent_usd: float
    budget_usd: float


@dataclass(frozen=True)
class SpendSummary:
    """Spend of one org: today's and this month's (UTC), outstanding reservations, and breakdowns.

    `by_model` covers the current UTC month; `by_day` every recorded day (YYYY-MM-DD).
    """

    org: str
    day: str
    month: str
    daily_usd: float
    monthly_usd: float
    reserved_usd: float
    reservations: int
    by_model: dict[str, float]
    by_day: dict[str, float]
