"""Budget alerts: a log event always, and a JSON POST to the configured webhook when there is one."""

from __future__ import annotations

import asyncio
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
    """Delivers each alert once; the limiter's settle script already guarantees once per threshold per period.

    That guarantee marks a threshold as fired before the POST, so a webhook that is briefly down would lose the alert
    for good: a connection error, a timeout, a 429 or a 5xx is retried `attempts` times in all, with doubling waits
    from `retry_wait_s`. A 4xx other than 429 means the receiver refuses this payload and is not retried.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_url: str | None,
        metrics: Metrics,
        timeout_s: float = 5.0,
        *,
        attempts: int = 4,
        retry_wait_s: float = 0.5,
    ) -> None:
        self._http = http
        self._metrics = metrics
        self._url = webhook_url
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._retry_wait_s = retry_wait_s
        self.sent = 0

    async def notify(self, alerts: Sequence[BudgetAlert]) -> None:
        for alert in alerts:
            payload = alert_payload(alert)
            log.warning("budget_alert", **payload)
            self._metrics.budget_alert(alert.org, alert.period, str(alert.threshold))
            self.sent += 1
            if self._url is not None:
                await self._post(self._url, payload, alert.org)

    async def _post(self, url: str, payload: dict[str, object], org: str) -> None:
        content = orjson.dumps(payload)
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(
                    url, content=content, headers={"content-type": "application/json"}, timeout=self._timeout_s
                )
            except httpx.HTTPError as exc:
                failure = type(exc).__name__
            else:
                if response.status_code < 400:
                    return
                if response.status_code != 429 and response.status_code < 500:
                    log.error("budget_alert_webhook_rejected", status=response.status_code, org=org)
                    return
                failure = f"status {response.status_code}"
            if attempt == self._attempts:
                log.error("budget_alert_webhook_failed", error=failure, org=org, attempts=attempt)
                return
            await asyncio.sleep(self._retry_wait_s * 2 ** (attempt - 1))
