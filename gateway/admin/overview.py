"""The console's overview of one org: budgets with spend, limits, today's calls and errors, 30 days of spend, alerts.

Built from what the admin service already reads (the limiter's spend and overrides) plus two read-only sources:
the ledger (how many calls and errors today) and the limiter's record of budget alerts sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from gateway.admin.calls import MAX_SCAN, CallSource
from gateway.admin.service import AdminService
from gateway.admin.views import View
from gateway.limits.keys import OrgKeys
from gateway.limits.store_errors import store_errors
from gateway.redis_client import RedisClient

CHART_DAYS = 30
MAX_ALERTS = 20


class AlertLog(Protocol):
    async def sent(self, org: str) -> list[View]:
        """Budget alerts sent for the org, newest period first."""
        ...


class RedisAlertLog:
    """Reads the hash the settle script marks each crossed threshold in (`daily:YYYY-MM-DD:80` → 1)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def sent(self, org: str) -> list[View]:
        with store_errors():
            raw = await self._redis.hgetall(OrgKeys(org).alerts)
        alerts = []
        for field in raw:
            text = field.decode() if isinstance(field, bytes) else str(field)
            period, _, rest = text.partition(":")
            period_key, _, threshold = rest.rpartition(":")
            if period and period_key and threshold.isdigit():
                alerts.append({"period": period, "period_key": period_key, "threshold": int(threshold)})
        alerts.sort(key=lambda alert: (alert["period_key"], alert["threshold"]), reverse=True)
        return alerts[:MAX_ALERTS]


class NoAlertLog:
    """The in-process store keeps no readable alert record; the console then shows none."""

    async def sent(self, org: str) -> list[View]:
        return []


def daily_series(by_day: dict[str, float], today: str, days: int = CHART_DAYS) -> list[View]:
    """The last `days` days up to `today`, oldest first, with zero for a day without spend (a chart needs every day)."""
    last = date.fromisoformat(today)
    series = []
    for back in range(days - 1, -1, -1):
        day = (last - timedelta(days=back)).isoformat()
        series.append({"day": day, "usd": by_day.get(day, 0.0)})
    return series


async def activity(source: CallSource, org: str, day: str) -> View:
    """Calls and errors since the start of `day` (UTC), from the ledger; `complete` is false past the scan cap."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    requests = errors = scanned = 0
    cost = 0.0
    async for _, record in source.scan(org=org, since=start, after=None):
        scanned += 1
        if scanned > MAX_SCAN:
            return {"requests": requests, "errors": errors, "cost_usd": round(cost, 9), "complete": False}
        if record.org != org or record.moment() < start:
            continue
        requests += 1
        cost += record.cost_usd
        if not 200 <= record.status < 400:
            errors += 1
    return {"requests": requests, "errors": errors, "cost_usd": round(cost, 9), "complete": True}


async def overview(service: AdminService, source: CallSource, alerts: AlertLog, org: str) -> View:
    budget = await service.budget(org)
    usage = await service.usage(org)
    return {
        "org": org,
        "day": usage["day"],
        "month": usage["month"],
        "budget": budget,
        "limits": await service.limits(org),
        "today": await activity(source, org, usage["day"]),
        "by_day": daily_series(usage["by_day"], usage["day"]),
        "by_model": usage["by_model"],
        "alerts": await alerts.sent(org),
    }
