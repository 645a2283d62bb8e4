"""A replica-local view in front of the shared Redis breaker, so a healthy model costs no Redis round trip.

While Redis says a circuit is closed, `check` answers "closed" locally for `refresh_s`, and successes are
counted locally and sent in one batch every `flush_s` (or with the next failure). Failures always go to Redis at
once, and a circuit that another replica opened is seen here within `refresh_s`. Half-open probes, open
circuits and everything after a failure go straight to Redis, as without this layer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from gateway.policy.schema import BreakerPolicy
from gateway.resilience.breaker import OPEN
from gateway.resilience.redis_breaker import RedisBreakerStore


class LocalBreakerCache:
    def __init__(
        self,
        store: RedisBreakerStore,
        *,
        refresh_s: float = 0.5,
        flush_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._flush_s = flush_s
        self._clock = clock
        self._closed_until: dict[str, float] = {}
        self._pending: dict[str, int] = {}
        self._pending_since: dict[str, float] = {}
        self._policies: dict[str, BreakerPolicy] = {}
        self._refreshing: dict[str, asyncio.Future[bool]] = {}

    async def check(self, model: str, policy: BreakerPolicy) -> float | None:
        now = self._clock()
        if self._closed_until.get(model, 0.0) > now:
            return None
        # One refresh per model at a time: the calls arriving while it is in flight share a "closed" answer instead
        # of each paying a Redis round trip when the cached state runs out under load. Anything else (a probe grant
        # is one caller's, an open circuit's wait, a store error) is asked for by each caller itself, as before.
        refreshing = self._refreshing.get(model)
        if refreshing is not None:
            if await asyncio.shield(refreshing):
                return None
            return await self._ask(model, policy, now)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._refreshing[model] = future
        closed = False
        try:
            wait, closed = await self._ask_closed(model, policy, now)
            return wait
        finally:
            del self._refreshing[model]
            future.set_result(closed)

    async def _ask(self, model: str, policy: BreakerPolicy, now: float) -> float | None:
        wait, _ = await self._ask_closed(model, policy, now)
        return wait

    async def _ask_closed(self, model: str, policy: BreakerPolicy, now: float) -> tuple[float | None, bool]:
        wait, closed = await self._store.check_closed(model, policy)
        if closed:
            self._closed_until[model] = now + self._refresh_s
        else:
            self._closed_until.pop(model, None)
        return wait, closed

    async def record(self, model: str, ok: bool, policy: BreakerPolicy, *, rate_limited: bool = False) -> None:
        now = self._clock()
        self._policies[model] = policy
        if ok and self._closed_until.get(model, 0.0) > now:
            self._pending[model] = self._pending.get(model, 0) + 1
            since = self._pending_since.setdefault(model, now)
            if now - since >= self._flush_s:
                await self._send(model, policy, extra_success=0, failure=False)
            return
        await self._send(model, policy, extra_success=int(ok), failure=not ok, rate_limited=rate_limited and not ok)

    async def open_cause(self, model: str) -> str | None:
        return await self._store.open_cause(model)

    async def _send(
        self, model: str, policy: BreakerPolicy, *, extra_success: int, failure: bool, rate_limited: bool = False
    ) -> None:
        successes = self._pending.pop(model, 0) + extra_success
        self._pending_since.pop(model, None)
        if successes == 0 and not failure:
            return
        cause = {"rate_limited": 1} if rate_limited else {}  # only when there is one: keeps the common call short
        state = await self._store.record_counts(model, successes=successes, failures=int(failure), policy=policy,
                                                **cause)
        if state == OPEN:
            self._closed_until.pop(model, None)

    async def flush(self) -> None:
        """Send every batched success now (called periodically and before reading states)."""
        for model in list(self._pending):
            await self._send(model, self._policies[model], extra_success=0, failure=False)

    async def states(self, models: Sequence[str]) -> dict[str, str]:
        await self.flush()
        return await self._store.states(models)
