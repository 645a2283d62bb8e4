"""The JSON documents the admin CLI (`--json`) and the admin HTTP API both return, built in one place.

Every key is always present (null when unset) so scripts can rely on the shape. For each setting,
`override` is what an admin stored, `default` what the policy file says, and `effective` what admission
uses: the override when set, else the default.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway.limits.types import Budget, RateLimits, SpendSummary
from gateway.policy.compiler import OrgSettings

View = dict[str, Any]


def _setting(override: float | int | None, default: float | int | None) -> View:
    return {"override": override, "default": default, "effective": override if override is not None else default}


def _percent(spent: float, budget: float | None) -> float | None:
    # A zero budget blocks all spend; a percentage of zero would be meaningless, so none is given.
    if budget is None or budget <= 0:
        return None
    return round(spent / budget * 100, 2)


def _period(period: str, override: float | None, default: float | None, spent: float) -> View:
    view = _setting(override, default)
    view["period"] = period
    view["spent_usd"] = spent
    view["percent_used"] = _percent(spent, view["effective"])
    return view


def budget_view(org: str, overrides: Budget | None, settings: OrgSettings, spend: SpendSummary) -> View:
    stored = overrides or Budget()
    return {
        "org": org,
        "daily_usd": _period(spend.day, stored.daily_usd, settings.daily_budget_usd, spend.daily_usd),
        "monthly_usd": _period(spend.month, stored.monthly_usd, settings.monthly_budget_usd, spend.monthly_usd),
        "reserved_usd": spend.reserved_usd,
        "reservations": spend.reservations,
    }


def limits_view(org: str, overrides: RateLimits | None, settings: OrgSettings) -> View:
    stored = overrides or RateLimits()
    return {
        "org": org,
        "rpm": _setting(stored.rpm, settings.rpm),
        "tpm": _setting(stored.tpm, settings.tpm),
        "max_concurrent": _setting(stored.max_concurrent, settings.max_concurrent),
    }


def usage_view(spend: SpendSummary, since: date | None) -> View:
    """Spend of one org. `by_model` covers the current UTC month (`month`); `by_day` every day from `since` on."""
    first = since.isoformat() if since is not None else ""
    # ISO dates compare correctly as strings, so no parsing of the stored keys is needed.
    by_day = {day: usd for day, usd in sorted(spend.by_day.items()) if day >= first}
    by_model = dict(sorted(spend.by_model.items(), key=lambda item: (-item[1], item[0])))
    return {
        "org": spend.org,
        "day": spend.day,
        "month": spend.month,
        "since": since.isoformat() if since is not None else None,
        "today_usd": spend.daily_usd,
        "month_usd": spend.monthly_usd,
        "reserved_usd": spend.reserved_usd,
        "reservations": spend.reservations,
        # Rounded to the nano-dollar the store counts in, so float summing adds no noise digits.
        "total_usd": round(float(sum(by_day.values())), 9),
        "by_model": by_model,
        "by_day": by_day,
    }
