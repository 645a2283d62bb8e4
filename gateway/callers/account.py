"""`GET /v1/key` and `GET /v1/usage` answers: a caller's limits, budgets and spend, from the limiter's own figures.

A key caller sees its key's spend as `usage` and both its key's and its org's budgets (the tighter one is
OpenRouter's `limit`); a JWT caller sees its org's. Rate limits are read without consuming anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.auth.principal import Principal
from gateway.callers.budgets import Spent, binding, scope_view, utc_now, week_total
from gateway.callers.totals import tag_view
from gateway.limits.backend import LimiterBackend
from gateway.limits.periods import periods_at
from gateway.limits.types import RateName, RateProbe, RateState
from gateway.policy.compiler import OrgSettings
from gateway.policy.policy import Policy

View = dict[str, Any]
DEPRECATED_NOTE = "OpenRouter's deprecated field; see gateway.rate_limits for every limit and what is left."


def _first(*values: int | float | None) -> Any:
    return next((value for value in values if value is not None), None)


class CallerAccount:
    def __init__(self, limiter: LimiterBackend, policy: Callable[[], Policy]) -> None:
        self._limiter = limiter
        self._policy = policy

    async def _rates(self, principal: Principal, settings: OrgSettings) -> dict[str, RateState]:
        limits, _ = await self._limiter.get_overrides(principal.org)
        candidates: dict[RateName, int | None] = {
            "org_rpm": _first(limits.rpm if limits else None, settings.rpm),
            "org_tpm": _first(limits.tpm if limits else None, settings.tpm),
            "subject_rpm": settings.subject_rpm, "subject_tpm": settings.subject_tpm,
            "key_rpm": principal.key.rpm if principal.key else None,
            "key_tpm": principal.key.tpm if principal.key else None,
        }
        wanted = {name: limit for name, limit in candidates.items() if limit is not None}
        key_id = principal.key.id if principal.key else None
        return await self._limiter.rates(RateProbe(principal.org, principal.subject, key_id, wanted))

    async def key(self, principal: Principal) -> View:
        settings = self._policy().org_settings(principal.org)
        _, budget = await self._limiter.get_overrides(principal.org)
        spend = await self._limiter.spend(principal.org)
        now = utc_now()
        periods = periods_at(now.timestamp())
        scopes: dict[str, View | None] = {
            "org": scope_view(_first(budget.daily_usd if budget else None, settings.daily_budget_usd),
                              _first(budget.monthly_usd if budget else None, settings.monthly_budget_usd),
                              Spent(spend.daily_usd, spend.monthly_usd, spend.reserved_usd), periods, now),
            "key": None,
        }
        grant = principal.key
        by_day, usage = spend.by_day, round(sum(spend.by_day.values()), 9)
        daily, monthly = spend.daily_usd, spend.monthly_usd
        if grant is not None:
            key_spend = await self._limiter.key_spend(principal.org, grant.id)
            scopes["key"] = scope_view(grant.daily_usd, grant.monthly_usd,
                                       Spent(key_spend.daily_usd, key_spend.monthly_usd, key_spend.reserved_usd),
                                       periods, now)
            by_day, usage = key_spend.by_day, key_spend.total_usd
            daily, monthly = key_spend.daily_usd, key_spend.monthly_usd
        rates = await self._rates(principal, settings)
        limit, remaining, reset = binding(scopes)
        rpm = min((state.limit for name, state in rates.items() if name.endswith("rpm")), default=-1)
        return {"data": {
            "label": f"{grant.prefix}…" if grant is not None else principal.subject,
            "limit": limit, "limit_remaining": remaining, "limit_reset": reset, "include_byok_in_limit": False,
            "usage": usage, "usage_daily": daily, "usage_weekly": week_total(by_day, now), "usage_monthly": monthly,
            "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
            "expires_at": grant.expires_at if grant is not None else None,
            "rate_limit": {"requests": rpm, "interval": "1m", "note": DEPRECATED_NOTE},
            "gateway": {
                "org": principal.org, "subject": principal.subject,
                "key": {"id": grant.id, "name": grant.name, "prefix": grant.prefix} if grant is not None else None,
                "rate_limits": {name: {"limit": state.limit, "remaining": state.remaining,
                                       "resets_in_s": round(state.reset_s, 3)} for name, state in rates.items()},
                "budgets": scopes,
            },
        }}

    async def usage(self, principal: Principal, tag: str | None) -> View:
        """The caller's org's spend today and this month and, with `tag=key:value`, that tag's totals."""
        spend = await self._limiter.spend(principal.org)
        view: View = {"org": principal.org, "day": spend.day, "month": spend.month, "today_usd": spend.daily_usd,
                      "month_usd": spend.monthly_usd}
        if principal.key is not None:
            key_spend = await self._limiter.key_spend(principal.org, principal.key.id)
            view["key"] = {"id": principal.key.id, "today_usd": key_spend.daily_usd,
                           "month_usd": key_spend.monthly_usd, "total_usd": key_spend.total_usd}
        if tag is not None:
            view["tag"] = await tag_view(self._limiter, self._policy(), principal.org, tag, separator=":")
        return view
