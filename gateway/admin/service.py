"""What the admin surface does, independent of how it is asked (CLI or HTTP): read, change, report.

Every method returns a view (see `views`), so both front ends print or send the very same document.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from gateway.admin.updates import BudgetUpdate, LimitsUpdate
from gateway.admin.views import View, budget_view, limits_view, usage_view
from gateway.callers.totals import tag_view
from gateway.limits.backend import LimiterBackend
from gateway.limits.types import Budget, RateLimits
from gateway.policy.policy import Policy


class AdminService:
    def __init__(self, limiter: LimiterBackend, policy: Callable[[], Policy]) -> None:
        # A callable, not a Policy: the server's policy is hot-reloaded and every answer must use the current one.
        self._limiter = limiter
        self._policy = policy

    async def budget(self, org: str) -> View:
        _, budget = await self._limiter.get_overrides(org)
        spend = await self._limiter.spend(org)
        return budget_view(org, budget, self._policy().org_settings(org), spend)

    async def set_budget(self, org: str, update: BudgetUpdate) -> View:
        # Read-merge-write is not atomic; two admins changing different fields at the same instant may lose one.
        # Acceptable for a human-paced surface, and the limiter's own write is atomic, so no half state is seen.
        _, current = await self._limiter.get_overrides(org)
        await self._limiter.set_overrides(org, None, update.applied_to(current))
        return await self.budget(org)

    async def reset_budget(self, org: str) -> View:
        """Clear the budget overrides only; limits overrides and all recorded spend stay."""
        await self._limiter.set_overrides(org, None, Budget())
        return await self.budget(org)

    async def budgets(self) -> list[View]:
        """Every org with an override stored or a section in the policy file, sorted by name."""
        orgs = set(await self._limiter.list_orgs()) | set(self._policy().document.orgs)
        return [await self.budget(org) for org in sorted(orgs)]

    async def limits(self, org: str) -> View:
        limits, _ = await self._limiter.get_overrides(org)
        return limits_view(org, limits, self._policy().org_settings(org))

    async def set_limits(self, org: str, update: LimitsUpdate) -> View:
        current, _ = await self._limiter.get_overrides(org)
        await self._limiter.set_overrides(org, update.applied_to(current), None)
        return await self.limits(org)

    async def reset_limits(self, org: str) -> View:
        await self._limiter.set_overrides(org, RateLimits(), None)
        return await self.limits(org)

    async def reset(self, org: str) -> View:
        """Drop every override of the org (budget and limits); spend history is never erased."""
        await self._limiter.reset(org)
        return {"org": org, "budget": await self.budget(org), "limits": await self.limits(org)}

    async def usage(self, org: str, since: date | None = None, tag: str | None = None, *,
                    tag_separator: str = ":") -> View:
        """The org's spend; with `tag` ("run_id:run-42"), that tag's totals under "tag" too."""
        view = usage_view(await self._limiter.spend(org), since)
        if tag is not None:
            view["tag"] = await tag_view(self._limiter, self._policy(), org, tag, separator=tag_separator)
        return view
