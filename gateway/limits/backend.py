"""The contract every limiter store implements (Redis, in-process, and the fail-open/closed wrapper)."""

from __future__ import annotations

from typing import Protocol

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


class LimiterBackend(Protocol):
    async def admit(self, request: AdmissionRequest) -> Admission:
        """Check every rate limit and reserve the budget in one atomic step; consume nothing unless all pass.

        Admitting a request id that is already in flight returns allowed without consuming again.
        """
        ...

    async def settle(self, settlement: Settlement) -> list[BudgetAlert]:
        """Record the actual cost and tokens, end the reservation and concurrency slot, correct tpm.

        Idempotent per request id: a repeat changes nothing and returns no alerts. Returns the budget
        thresholds this settlement newly crossed (each reported once per period across all replicas).
        """
        ...

    async def refusal_alerts(self, org: str, budget: Budget, reserve_usd: float) -> list[BudgetAlert]:
        """After a call was refused for its budget: the 100 % alerts now due (spend + `reserve_usd` would cross
        the budget, or spend reached it), each once per period, shared with settlement's alerts."""
        ...

    async def release(self, request_id: str, org: str, subject: str, key_id: str | None = None) -> None:
        """The request failed: free its reservation and concurrency slot, refund its tpm estimate, spend nothing.

        `key_id` is the API key it was admitted under, whose own reservation is freed too.
        """
        ...

    async def spend(self, org: str) -> SpendSummary: ...

    async def key_spend(self, org: str, key_id: str) -> KeySpend:
        """An API key's own spend and held reservations (zeros for a key never used)."""
        ...

    async def tag_totals(self, org: str, key: str, value: str) -> TagTotals:
        """Cost, tokens and calls of the org's settled calls tagged `key=value` (zeros when none, or expired)."""
        ...

    async def rates(self, probe: RateProbe) -> dict[str, RateState]:
        """What is left of the probed rate limits right now; consumes nothing."""
        ...

    async def set_overrides(self, org: str, limits: RateLimits | None, budget: Budget | None) -> None:
        """Replace the org's limits override and/or budget override; a None part is left as it is.

        Inside a given part, a None field is not overridden (the policy default applies).
        """
        ...

    async def get_overrides(self, org: str) -> tuple[RateLimits | None, Budget | None]: ...

    async def list_orgs(self) -> list[str]:
        """Orgs that have an override stored, sorted."""
        ...

    async def reset(self, org: str) -> None:
        """Drop the org's overrides so policy defaults apply again; spend history is never erased."""
        ...

    async def ping(self) -> bool: ...
