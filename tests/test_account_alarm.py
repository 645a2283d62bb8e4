"""The account alarm counts every refused call but logs at most once per interval."""

from __future__ import annotations

import structlog

from gateway.metrics import Metrics
from gateway.upstream.account_alarm import AccountAlarm


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _count(metrics: Metrics, reason: str) -> float:
    body, _ = metrics.render()
    for line in body.decode().splitlines():
        if line.startswith(f'gateway_upstream_account_refusals_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_refusal_is_counted_and_logged_once_per_interval() -> None:
    metrics, clock = Metrics(), Clock()
    alarm = AccountAlarm(metrics, interval_s=60.0, clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            alarm.refused("credits")
        clock.now += 61
        alarm.refused("credits")
        alarm.refused("authentication")
    assert _count(metrics, "credits") == 6 and _count(metrics, "authentication") == 1
    lines = [entry for entry in logs if entry["event"] == "upstream_account_refused"]
    assert [(entry["reason"], entry["calls"]) for entry in lines] == [("credits", 1), ("credits", 5)]
