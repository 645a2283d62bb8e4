"""The replica-local layer in front of the Redis breaker: fewer round trips, same circuit decisions."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from gateway.policy.schema import BreakerPolicy
from gateway.resilience.local_breaker import LocalBreakerCache
from gateway.resilience.redis_breaker import RedisBreakerStore

POLICY = BreakerPolicy(window_s=30, min_requests=4, failure_rate=0.5, cooldown_s=1, half_open_probes=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(RedisBreakerStore):
    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__(redis)
        self.checks = 0
        self.records = 0

    async def check_closed(self, model: str, policy: BreakerPolicy) -> tuple[float | None, bool]:
        self.checks += 1
        return await super().check_closed(model, policy)

    async def record_counts(self, model: str, *, successes: int, failures: int, policy: BreakerPolicy) -> str:
        self.records += 1
        return await super().record_counts(model, successes=successes, failures=failures, policy=policy)


async def test_closed_circuit_is_answered_locally_and_successes_batched(redis_client: aioredis.Redis) -> None:
    store, clock = CountingStore(redis_client), Clock()
    cache = LocalBreakerCache(store, refresh_s=0.5, flush_s=0.25, clock=clock)
    for _ in range(100):
        assert await cache.check("m", POLICY) is None
        await cache.record("m", True, POLICY)
    assert store.checks == 1 and store.records == 0
    clock.now += 0.3
    await cache.record("m", True, POLICY)  # the batch is due: 101 successes in one round trip
    assert store.records == 1
    fields = await redis_client.hgetall("gw:breaker:{m}")
    assert sum(int(v) for k, v in fields.items() if k.startswith(b"n:")) == 101


async def test_failures_go_out_at_once_and_open_the_circuit_for_every_replica(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    replica_a = LocalBreakerCache(RedisBreakerStore(redis_client), clock=clock)
    replica_b = LocalBreakerCache(RedisBreakerStore(redis_client), clock=clock)
    for _ in range(4):
        assert await replica_a.check("m", POLICY) is None
        await replica_a.record("m", False, POLICY)
    wait = await replica_a.check("m", POLICY)
    assert wait is not None and 0 < wait <= 1
    assert await replica_b.check("m", POLICY) is not None


async def test_a_cached_closed_view_expires_after_refresh(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    replica_a = LocalBreakerCache(RedisBreakerStore(redis_client), refresh_s=0.5, clock=clock)
    replica_b = LocalBreakerCache(RedisBreakerStore(redis_client), refresh_s=0.5, clock=clock)
    assert await replica_b.check("m", POLICY) is None  # b now believes "closed" for 0.5 s
    for _ in range(4):
        await replica_a.record("m", False, POLICY)
    assert await replica_b.check("m", POLICY) is None  # still within b's refresh window
    clock.now += 0.6
    assert await replica_b.check("m", POLICY) is not None


async def test_half_open_probe_is_not_cached(redis_client: aioredis.Redis) -> None:
    store, clock = CountingStore(redis_client), Clock()
    cache = LocalBreakerCache(store, clock=clock)
    for _ in range(4):
        await cache.record("m", False, POLICY)
    await redis_client.hset("gw:breaker:{m}", "open_until", "0")  # cool-down over: the next check is a probe
    assert await cache.check("m", POLICY) is None
    assert await cache.check("m", POLICY) is not None  # the only probe slot is taken; no local "closed" answer
    await cache.record("m", True, POLICY)  # the probe's success closes the circuit, sent at once
    assert await redis_client.hget("gw:breaker:{m}", "open_until") is None


async def test_states_flushes_pending_successes(redis_client: aioredis.Redis) -> None:
    cache = LocalBreakerCache(RedisBreakerStore(redis_client), clock=Clock())
    await cache.check("m", POLICY)
    for _ in range(3):
        await cache.record("m", True, POLICY)
    assert await cache.states(["m"]) == {"m": "closed"}
    fields = await redis_client.hgetall("gw:breaker:{m}")
    assert sum(int(v) for k, v in fields.items() if k.startswith(b"n:")) == 3


async def test_concurrent_checks_of_an_expired_state_share_one_round_trip(redis_client: aioredis.Redis) -> None:
    store, clock = CountingStore(redis_client), Clock()
    cache = LocalBreakerCache(store, refresh_s=0.5, clock=clock)
    answers = await asyncio.gather(*(cache.check("m", POLICY) for _ in range(20)))
    assert answers == [None] * 20 and store.checks == 1
    clock.now += 1  # expired again: one more round trip for the next burst
    assert await asyncio.gather(*(cache.check("m", POLICY) for _ in range(5))) == [None] * 5
    assert store.checks == 2


async def test_concurrent_checks_of_an_open_circuit_each_ask_redis(redis_client: aioredis.Redis) -> None:
    store, clock = CountingStore(redis_client), Clock()
    cache = LocalBreakerCache(store, clock=clock)
    for _ in range(4):
        await cache.record("m", False, POLICY)
    waits = await asyncio.gather(*(cache.check("m", POLICY) for _ in range(3)))
    assert all(wait is not None and wait > 0 for wait in waits) and store.checks == 3
