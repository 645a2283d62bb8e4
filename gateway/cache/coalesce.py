"""Single-flight: concurrent identical requests make one upstream call and all get its answer.

In-process only: replicas each make their own call on a cold key, which costs at most one call per
replica, against a cross-replica lock that would put a Redis round trip on every miss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _LeaderCancelled(Exception):
    """The leader's own caller went away (a client disconnect): its waiters still want an answer."""


class Coalescer:
    """Keys are cache keys, so requests of different orgs never share a flight."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self, key: str, producer: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """`(value, was_leader)`. The first caller for `key` runs `producer`; callers arriving while it
        runs await its result, or its exception. If the leader is cancelled, one waiter takes over and
        runs the producer itself, so one client's disconnect never fails the others."""
        while True:
            future = self._inflight.get(key)
            if future is None:
                return await self._lead(key, producer), True
            try:
                # shield: a waiter being cancelled must not cancel the shared result under the others.
                return await asyncio.shield(future), False
            except _LeaderCancelled:
                continue

    async def _lead(self, key: str, producer: Callable[[], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await producer()
        except Exception as exc:  # not swallowed: recorded for the waiters, then re-raised
            _fail(future, exc)
            raise
        else:
            future.set_result(value)
            return value
        finally:
            if not future.done():
                # Cancelled (or interrupted) rather than failed: a waiter should retry, not inherit it.
                _fail(future, _LeaderCancelled())
            # Done either way: the next call for this key starts afresh (and may hit the cache instead).
            del self._inflight[key]


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    future.set_exception(exc)
    # Mark the exception retrieved: with no waiters, asyncio would otherwise log it as never retrieved
    # even though the leader has re-raised it to its own caller.
    future.exception()
