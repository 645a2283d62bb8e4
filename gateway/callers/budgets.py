"""One caller's budgets as `GET /v1/key` shows them: per scope (org, key) and period, with what is left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.limits.periods import Periods

View = dict[str, Any]


@dataclass(frozen=True)
class Spent:
    """A scope's spend in the current periods, and its live reservations."""

    daily_usd: float
    monthly_usd: float
    reserved_usd: float


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def period_view(budget: float | None, spent: float, reserved: float, key: str, reset_s: float,
                now: datetime) -> View:
    remaining = None if budget is None else round(max(0.0, budget - spent - reserved), 9)
    return {
        "budget_usd": budget, "spent_usd": spent, "reserved_usd": reserved, "remaining_usd": remaining,
        "period": key, "resets_in_s": round(reset_s, 3), "resets_at": _iso(now + timedelta(seconds=reset_s)),
    }


def scope_view(daily: float | None, monthly: float | None, spent: Spent, periods: Periods, now: datetime) -> View:
    return {
        "daily": period_view(daily, spent.daily_usd, spent.reserved_usd, periods.day, periods.day_reset_s, now),
        "monthly": period_view(monthly, spent.monthly_usd, spent.reserved_usd, periods.month, periods.month_reset_s,
                               now),
    }


def binding(scopes: dict[str, View | None]) -> tuple[float | None, float | None, str | None]:
    """(limit, limit_remaining, limit_reset) of the budget with least left, as OpenRouter's `/key` has one."""
    best: tuple[float, float, str] | None = None
    for scope in scopes.values():
        if scope is None:
            continue
        for period in ("daily", "monthly"):
            view = scope[period]
            if view["budget_usd"] is None:
                continue
            if best is None or view["remaining_usd"] < best[1]:
                best = (view["budget_usd"], view["remaining_usd"], period)
    return best if best is not None else (None, None, None)


def week_total(by_day: dict[str, float], now: datetime) -> float:
    """Spend since Monday 00:00 UTC, as OpenRouter's `usage_weekly`."""
    monday = (now - timedelta(days=now.weekday())).date().isoformat()
    return round(sum(usd for day, usd in by_day.items() if day >= monday), 9)


def utc_now() -> datetime:
    return datetime.now(UTC)
