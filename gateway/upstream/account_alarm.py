"""The operator's alarm for the gateway's own OpenRouter account being refused (a bad key, credits gone).

Every call then fails the same way until someone acts, so it is counted on a metric (to alert on) and logged, but
at most once per interval: thousands of identical error lines a minute would bury everything else in the logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from gateway.metrics import Metrics

log = structlog.get_logger(__name__)


class AccountAlarm:
    def __init__(self, metrics: Metrics, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._interval_s = interval_s
        self._clock = clock
        self._logged_at: float | None = None
        self._since_logged = 0

    def refused(self, reason: str) -> None:
        """One call failed on the account (`reason`: "authentication" or "credits")."""
        self._metrics.upstream_account_refused(reason)
        self._since_logged += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._interval_s:
            return
        log.error("upstream_account_refused", reason=reason, calls=self._since_logged,
                  action="check the gateway's OPENROUTER_API_KEY and the account's credits")
        self._logged_at, self._since_logged = now, 0
