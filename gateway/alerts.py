"""Budget alerts: a log event always, and a JSON POST to the configured webhook when there is one."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import orjson
import structlog

from gateway.limits.types import BudgetAlert
from gateway.metrics import Metrics

log = structlog.get_logger("gateway.alerts")


def alert_payload(alert: BudgetAlert) -> dict[str, object]:
    return {
        "org": alert.org,
        "period": alert.period,
        "period_key": alert.period_key,
        "threshold": alert.threshold,
        "spent_usd": alert.spent_usd,
        "budget_usd": alert.budget_usd,
    }


class AlertNotifier:
    """Delivers each alert once; the limiter's settle script already guarantees once per threshold per period."""

    def __init__(
        self, http: httpx.AsyncClient, webhook_url: str | None, metrics: Metrics, timeout_s: float = 5.0
    ) -> None:
        self._http = http
        self._metrics = metrics
        self._url = webhook_url
        self._timeout_s = timeout_s
        self.sent = 0

    async def notify(self, alerts: Sequence[BudgetAlert]) -> None:
        for alert in alerts:
            payload = alert_payload(alert)
            log.warning("budget_alert", **payload)
            self._metrics.budget_alert(alert.org, alert.period, str(alert.threshold))
            self.sent += 1
            if self._url is None:
                continue
            try:
                response = await self._http.post(
                    self._url, content=orjson.dumps(payload), headers={"content-type": "application/json"},
                    timeout=self._timeout_s,
                )
                if response.status_code >= 400:
                    log.error("budget_alert_webhook_rejected", status=response.status_code, org=alert.org)
            except httpx.HTTPError as exc:
                log.error("budget_alert_webhook_failed", error=type(exc).__name__, org=alert.org)
