"""The cache as the request path sees it: one store, one TTL, one single-flight, behind three calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.cache.coalesce import Coalescer
from gateway.cache.store import CacheStore

# The response header that tells a caller whether its answer came from the cache.
CACHE_HEADER = "x-gateway-cache"
HIT = "hit"
MISS = "miss"


class ResponseCache:
    """Stored entries are `chat.completion` JSON bytes (see replay.py for streamed callers)."""

    def __init__(self, store: CacheStore, ttl_s: float, coalescer: Coalescer | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.store = store
        self.ttl_s = ttl_s
        self.coalescer = coalescer or Coalescer()

    async def lookup(self, key: str) -> bytes | None:
        return await self.store.get(key)

    async def save(self, key: str, body: bytes) -> None:
        await self.store.put(key, body, self.ttl_s)

    async def fetch(self, key: str, producer: Callable[[], Awaitable[bytes]]) -> tuple[bytes, bool]:
        """`(body, hit)`: the stored entry, else one `producer()` call shared by every concurrent caller of
        `key` and saved by the caller that ran it. A waiter's answer counts as a hit: it cost no upstream
        call of its own, so nothing is charged for it."""
        cached = await self.lookup(key)
        if cached is not None:
            return cached, True

        async def produce_and_save() -> bytes:
            body = await producer()
            await self.save(key, body)
            return body

        body, was_leader = await self.coalescer.run(key, produce_and_save)
        return body, not was_leader
