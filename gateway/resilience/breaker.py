"""A circuit breaker per upstream model: stop sending traffic to a model that keeps failing, probe it later.

closed     every request goes through; outcomes are counted in a sliding window of `window_s`. Once the window
           holds at least `min_requests` outcomes and the failure share reaches `failure_rate`, the circuit opens.
open       nothing goes through for `cooldown_s`; `check` answers with the seconds left.
half-open  after the cool-down, up to `half_open_probes` requests go through. The first outcome decides: a
           success closes the circuit (fresh counts), a failure reopens it for another cool-down. A probe whose
           holder never reports (crashed replica) frees its slot after another `cooldown_s`.

Only failures `classify.breaker_verdict` calls failures count (5xx, timeouts, 429); a model that rejects a bad
request has answered, so client errors count as successes. Upstream 429s are also counted as such: a circuit
that opens when most of its window's failures were 429s remembers `cause = "rate_limit"` (shared across
replicas), and the executor then answers 429 `rate_limit_error` with `Retry-After`, not 503 (README, "Circuit
breaker and upstream 429s", says why 429s open circuits at all). Outcomes reported while the circuit is open (from
requests that started before it opened) are ignored.

The state lives in a `BreakerStore`, so replicas sharing Redis share their circuits; `MemoryBreakerStore` has the
same semantics for a single process and tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.policy.schema import BreakerPolicy

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
# Reported by `states()` when the shared store cannot be read.
UNKNOWN = "unknown"
# The failure window is counted in this many slices, so old outcomes age out without a per-event log.
# breaker_common.lua has the same number (BUCKETS); the two stores must slice the window alike.
WINDOW_BUCKETS = 10


class BreakerStoreError(Exception):
    """The shared breaker state could not be read or written (e.g. Redis is unreachable)."""


class BreakerStore(Protocol):
    async def check(self, model: str, policy: BreakerPolicy) -> float | None:
        """None if a request to `model` may go now (taking a probe slot when half-open), else seconds to wait."""
        ...

    async def record(self, model: str, ok: bool, policy: BreakerPolicy, *, rate_limited: bool = False) -> None:
        """Count one outcome of a request to `model` and move the circuit accordingly (`rate_limited`: the
        failure was an upstream 429)."""
        ...

    async def open_cause(self, model: str) -> str | None:
        """`rate_limit` when the open circuit was opened by mostly upstream 429s, else None."""
        ...

    async def states(self, models: Sequence[str]) -> dict[str, str]:
        """`closed`, `open` or `half_open` for each model."""
        ...


class CircuitBreaker:
    """The breaker the executor talks to: one policy, one store, and the models this process has seen.

    A store failure never blocks traffic: the breaker is an aid to availability, and whether requests may run
    without Redis is decided by admission's explicit fail-open/fail-closed setting, not here. After a failure
    the store is left alone for `store_retry_s`, so a dead Redis (whose client may retry with backoff for
    seconds) does not add that delay to every upstream call.
    """

    def __init__(
        self,
        store: BreakerStore,
        policy: BreakerPolicy,
        *,
        store_retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.policy = policy
        self.store_errors = 0
        self._models: set[str] = set()
        self._store_retry_s = store_retry_s
        self._clock = clock
        self._store_down_until = -math.inf

    async def check(self, model: str) -> float | None:
        self._models.add(model)
        if self._store_resting():
            return None
        try:
            return await self.store.check(model, self.policy)
        except BreakerStoreError:
            self._store_failed()
            return None

    async def record(self, model: str, ok: bool, *, rate_limited: bool = False) -> None:
        self._models.add(model)
        if self._store_resting():
            return
        try:
            await self.store.record(model, ok, self.policy, rate_limited=rate_limited)
        except BreakerStoreError:
            self._store_failed()

    async def open_cause(self, model: str) -> str | None:
        """Why the (open) circuit opened: `rate_limit` or None (failures; also when the store cannot say)."""
        if self._store_resting():
            return None
        try:
            return await self.store.open_cause(model)
        except BreakerStoreError:
            self._store_failed()
            return None

    async def states(self) -> dict[str, str]:
        """The state of every model this process has checked or recorded, for metrics."""
        models = sorted(self._models)
        if self._store_resting():
            return dict.fromkeys(models, UNKNOWN)
        try:
            return await self.store.states(models)
        except BreakerStoreError:
            self._store_failed()
            return dict.fromkeys(models, UNKNOWN)

    def _store_resting(self) -> bool:
        return self._clock() < self._store_down_until

    def _store_failed(self) -> None:
        self.store_errors += 1
        self._store_down_until = self._clock() + self._store_retry_s
