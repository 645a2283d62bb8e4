from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from gateway.limits import (
    AdmissionRequest,
    Budget,
    LimiterBackend,
    ManualClock,
    MemoryLimiterBackend,
    RateLimits,
    RedisLimiterBackend,
)

# Wednesday 2025-06-18 12:00:00 UTC: far from any period edge unless a test moves it.
MIDDAY = 1_750_248_000.0
_ids = itertools.count()


@dataclass
class Harness:
    """One backend plus the means to let time pass: a manual clock in memory, real sleep against Redis."""

    backend: LimiterBackend
    kind: str
    clock: ManualClock | None = None

    async def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)

    def now(self) -> float:
        return self.clock.time() if self.clock is not None else time.time()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def harness(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = ManualClock(MIDDAY)
        yield Harness(MemoryLimiterBackend(clock), "memory", clock)
        return
    if request.param == "cluster":  # the same suite on a real Redis Cluster, through redis-py's cluster client
        # redis-py's cluster pools do not queue: size them above the tests' 200 concurrent calls.
        cluster = aioredis.RedisCluster.from_url(request.getfixturevalue("redis_cluster_url"), max_connections=1000)
        await cluster.flushall()
        try:
            yield Harness(RedisLimiterBackend(cluster), "redis")
        finally:
            await cluster.aclose()
        return
    # Same as the shared `redis_client` fixture (dedicated db, flushed per test), which cannot be
    # requested lazily from an async fixture.
    client = connect(redis_url)
    await client.flushdb()
    try:
        yield Harness(RedisLimiterBackend(client), "redis")
    finally:
        await client.aclose()


def connect(redis_url: str) -> aioredis.Redis:
    """A client as the gateway should make one: a blocking pool, so bursts queue for a connection."""
    return aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=32))


def ask(
    *,
    org: str = "acme",
    subject: str = "alice",
    org_limits: RateLimits | None = None,
    subject_limits: RateLimits | None = None,
    budget: Budget | None = None,
    tokens: int = 0,
    reserve_usd: float = 0.0,
    ttl_s: float = 900,
    request_id: str | None = None,
) -> AdmissionRequest:
    return AdmissionRequest(
        request_id=request_id or f"req-{next(_ids)}",
        org=org,
        subject=subject,
        org_limits=org_limits or RateLimits(),
        subject_limits=subject_limits or RateLimits(),
        budget=budget or Budget(),
        tokens=tokens,
        reserve_usd=reserve_usd,
        reservation_ttl_s=ttl_s,
    )
