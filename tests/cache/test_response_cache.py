"""ResponseCache: a hit skips the producer, a miss is produced once and saved for the next caller."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.cache import MemoryCacheStore, RedisCacheStore, ResponseCache, cache_key

KEY = cache_key(org="acme", endpoint="chat", body={"model": "m", "temperature": 0})


class Upstream:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(0.02)
        return b'{"id":"gen-1"}'


async def test_miss_then_hit_in_memory() -> None:
    cache = ResponseCache(MemoryCacheStore(), ttl_s=60)
    upstream = Upstream()
    assert await cache.fetch(KEY, upstream) == (b'{"id":"gen-1"}', False)
    assert await cache.fetch(KEY, upstream) == (b'{"id":"gen-1"}', True)
    assert upstream.calls == 1


async def test_concurrent_misses_share_one_upstream_call_over_redis(redis_client: aioredis.Redis) -> None:
    cache = ResponseCache(RedisCacheStore(redis_client), ttl_s=60)
    upstream = Upstream()
    results = await asyncio.gather(*(cache.fetch(KEY, upstream) for _ in range(10)))
    assert upstream.calls == 1
    assert {body for body, _ in results} == {b'{"id":"gen-1"}'}
    assert sum(not hit for _, hit in results) == 1  # only the caller that went upstream is a miss
    assert await redis_client.get(KEY) == b'{"id":"gen-1"}'
    assert await cache.lookup(KEY) == b'{"id":"gen-1"}'


async def test_a_failed_producer_saves_nothing() -> None:
    cache = ResponseCache(MemoryCacheStore(), ttl_s=60)

    async def failing() -> bytes:
        raise RuntimeError("upstream 502")

    with pytest.raises(RuntimeError):
        await cache.fetch(KEY, failing)
    assert await cache.lookup(KEY) is None


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        ResponseCache(MemoryCacheStore(), ttl_s=0)
