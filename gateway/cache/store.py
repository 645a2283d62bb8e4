"""Where cached responses live: Redis when the gateway has it (shared by replicas), else process memory.

A cache is an optimisation, so neither store ever fails a request: a Redis that is down or slow reads
as a miss and swallows writes, and the request goes upstream as if there were no cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import structlog
from redis import exceptions as redis_errors

from gateway.redis_client import RedisClient

log = structlog.get_logger(__name__)


class CacheStore(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The stored value, or None when absent, expired or unreadable."""
        ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store `value` for `ttl_s` seconds; a non-positive TTL stores nothing."""
        ...


class MemoryCacheStore:
    """TTL entries with a least-recently-used bound, for the embedded single-process default.

    Expired entries are dropped when read or when the bound evicts them: no sweeper task is needed,
    because the bound alone caps memory.
    """

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._entries[key] = (self._clock() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class RedisCacheStore:
    """Plain string keys with a millisecond TTL (`SET … PX`); Redis's own eviction bounds the size."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except redis_errors.RedisError as exc:
            log.warning("cache_read_failed", error=type(exc).__name__)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        try:
            # At least 1 ms: PX 0 is an error in Redis, and a sub-millisecond TTL means "store briefly".
            await self._redis.set(key, value, px=max(1, round(ttl_s * 1000)))
        except redis_errors.RedisError as exc:
            log.warning("cache_write_failed", error=type(exc).__name__)
