"""Periodic work of one process: replay spooled settlements and ledger records, refresh the gauges that describe
shared state."""

from __future__ import annotations

import asyncio

import structlog
from redis.exceptions import RedisError

from gateway.alerts import AlertNotifier
from gateway.errors import GatewayError
from gateway.limits.limiter import Limiter
from gateway.metering.ledger import Ledger
from gateway.metrics import Metrics
from gateway.shared_state import SharedState
from gateway.upstream.plan import Resilience

log = structlog.get_logger(__name__)


async def housekeeping_once(
    store: SharedState, resilience: Resilience, metrics: Metrics, notifier: AlertNotifier, limiter: Limiter,
    ledger: Ledger,
) -> None:
    if store.resilient is not None:
        # Ask the store itself: an idle replica must show an outage too, not only one that sends traffic.
        metrics.store_degraded(not await store.resilient.ping())
    try:
        alerts = await store.replay_spool()
    except GatewayError as exc:  # Redis still away: the batch stays on disk for the next round
        log.warning("spool_replay_failed", error=exc.message)
        alerts = []
    if alerts:
        await notifier.notify(alerts)
    await _replay_ledger(ledger)
    await limiter.publish_utilisation()
    if resilience.breaker is not None:
        for model, state in (await resilience.breaker.states()).items():
            if state != "unknown":
                metrics.circuit_state(model, state)


async def _replay_ledger(ledger: Ledger) -> None:
    try:
        replayed = await ledger.replay_spool()
    except (RedisError, OSError) as exc:  # still away: the batch stays on disk for the next round
        log.warning("ledger_replay_failed", error=repr(exc))
        return
    if replayed:
        log.info("ledger_spool_replayed", records=replayed)


async def housekeeping_forever(
    interval_s: float, store: SharedState, resilience: Resilience, metrics: Metrics, notifier: AlertNotifier,
    limiter: Limiter, ledger: Ledger,
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await housekeeping_once(store, resilience, metrics, notifier, limiter, ledger)
