"""CircuitBreaker over its stores: shared state across replicas, Redis layout, and failing open without Redis."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.policy.schema import BreakerPolicy
from gateway.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    UNKNOWN,
    CircuitBreaker,
    MemoryBreakerStore,
    RedisBreakerStore,
    circuit_key,
)
from tests.resilience.fakes import FakeClock
from tests.servers import free_port

MODEL = "openai/gpt-4o"
POLICY = BreakerPolicy(window_s=30.0, min_requests=3, failure_rate=0.5, cooldown_s=1.0, half_open_probes=1)


async def test_two_replicas_share_one_circuit_through_redis(
    redis_client: aioredis.Redis, second_redis: aioredis.Redis
) -> None:
    replica_a = CircuitBreaker(RedisBreakerStore(redis_client), POLICY)
    replica_b = CircuitBreaker(RedisBreakerStore(second_redis), POLICY)
    await replica_a.record(MODEL, False)
    await replica_b.record(MODEL, False)  # failures from both replicas add up
    assert await replica_b.check(MODEL) is None
    await replica_a.record(MODEL, False)
    wait = await replica_b.check(MODEL)
    assert wait is not None and 0.5 < wait <= 1.0
    assert await replica_b.states() == {MODEL: OPEN}

    await asyncio.sleep(1.05)
    assert await replica_a.states() == {MODEL: HALF_OPEN}
    assert await replica_a.check(MODEL) is None  # replica A holds the only probe
    assert await replica_b.check(MODEL) is not None
    await replica_a.record(MODEL, True)
    assert await replica_b.check(MODEL) is None
    assert await replica_b.states() == {MODEL: CLOSED}


async def test_the_circuit_is_one_hash_tagged_key_timed_by_redis(redis_client: aioredis.Redis) -> None:
    store = RedisBreakerStore(redis_client)
    for _ in range(3):
        await store.record(MODEL, False, POLICY)
    key = circuit_key(MODEL)
    assert key == "gw:breaker:{openai/gpt-4o}"
    assert await redis_client.keys("gw:breaker:*") == [key.encode()]
    seconds, micros = await redis_client.time()
    open_until = float(await redis_client.hget(key, "open_until"))
    assert 0.9 < open_until - (seconds + micros / 1e6) <= 1.0
    # An abandoned open circuit expires on its own (2 x cooldown + window).
    assert 0 < await redis_client.pttl(key) <= 32_000


async def test_closed_counts_expire_with_the_window(redis_client: aioredis.Redis) -> None:
    store = RedisBreakerStore(redis_client)
    await store.record(MODEL, False, POLICY.model_copy(update={"window_s": 2.0}))
    assert 0 < await redis_client.pttl(circuit_key(MODEL)) <= 2000


async def test_without_redis_the_breaker_fails_open_and_rests_the_store() -> None:
    # No client-side retries: the test is about the breaker, not redis-py's reconnect policy.
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    clock = FakeClock()
    try:
        breaker = CircuitBreaker(RedisBreakerStore(dead), POLICY, store_retry_s=1.0, clock=clock)
        assert await breaker.check(MODEL) is None
        assert breaker.store_errors == 1
        await breaker.record(MODEL, False)
        assert await breaker.states() == {MODEL: UNKNOWN}
        assert breaker.store_errors == 1  # resting: the dead store was not asked again
        clock.advance(1.0)
        assert await breaker.check(MODEL) is None
        assert breaker.store_errors == 2
    finally:
        await dead.aclose()


async def test_states_lists_every_model_this_process_has_used() -> None:
    breaker = CircuitBreaker(MemoryBreakerStore(FakeClock()), POLICY)
    assert await breaker.states() == {}
    await breaker.check("a/one")
    for _ in range(3):
        await breaker.record("b/two", False)
    assert await breaker.states() == {"a/one": CLOSED, "b/two": OPEN}
