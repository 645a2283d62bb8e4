"""Both stores: TTL and LRU in memory; real Redis with PX, the org's slot, and an unreachable server."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.cache import MemoryCacheStore, RedisCacheStore, cache_key
from tests.servers import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_memory_entry_lives_until_its_ttl() -> None:
    clock = FakeClock()
    store = MemoryCacheStore(clock=clock)
    await store.put("k", b"v", ttl_s=10)
    clock.now += 9.9
    assert await store.get("k") == b"v"
    clock.now += 0.1
    assert await store.get("k") is None
    assert len(store) == 0


async def test_memory_put_overwrites_and_restarts_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryCacheStore(clock=clock)
    await store.put("k", b"old", ttl_s=10)
    clock.now += 8
    await store.put("k", b"new", ttl_s=10)
    clock.now += 8
    assert await store.get("k") == b"new"


async def test_memory_evicts_the_least_recently_used() -> None:
    store = MemoryCacheStore(max_entries=2, clock=FakeClock())
    await store.put("a", b"1", ttl_s=60)
    await store.put("b", b"2", ttl_s=60)
    assert await store.get("a") == b"1"  # `a` is now the most recently used
    await store.put("c", b"3", ttl_s=60)
    assert len(store) == 2
    assert await store.get("b") is None
    assert await store.get("a") == b"1"
    assert await store.get("c") == b"3"


async def test_memory_non_positive_ttl_stores_nothing() -> None:
    store = MemoryCacheStore(clock=FakeClock())
    await store.put("k", b"v", ttl_s=0)
    assert await store.get("k") is None


async def test_redis_put_get(redis_client: aioredis.Redis) -> None:
    store = RedisCacheStore(redis_client)
    key = cache_key(org="acme", endpoint="chat", body={"model": "m", "temperature": 0})
    assert await store.get(key) is None
    await store.put(key, b'{"id":"x"}', ttl_s=60)
    assert await store.get(key) == b'{"id":"x"}'
    ttl_ms = await redis_client.pttl(key)
    assert 0 < ttl_ms <= 60_000


async def test_redis_entry_expires(redis_client: aioredis.Redis) -> None:
    store = RedisCacheStore(redis_client)
    await store.put("gw:{acme}:cache:short", b"v", ttl_s=0.05)
    assert await store.get("gw:{acme}:cache:short") == b"v"
    await asyncio.sleep(0.15)
    assert await store.get("gw:{acme}:cache:short") is None


async def test_redis_entries_of_an_org_share_its_slot(redis_client: aioredis.Redis) -> None:
    store = RedisCacheStore(redis_client)
    for model in ("a", "b", "c"):
        await store.put(cache_key(org="acme", endpoint="chat", body={"model": model}), b"v", ttl_s=60)
    keys = await redis_client.keys("gw:*")
    assert len(keys) == 3
    assert {key_slot(k) for k in keys} == {key_slot(b"{acme}")}


async def test_unreachable_redis_reads_as_a_miss_and_swallows_writes() -> None:
    # A closed port: connection refused on every command.
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    store = RedisCacheStore(client)
    try:
        assert await store.get("gw:{acme}:cache:x") is None
        await store.put("gw:{acme}:cache:x", b"v", ttl_s=60)
        assert await store.get("gw:{acme}:cache:x") is None
    finally:
        await client.aclose()
