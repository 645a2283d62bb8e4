"""Redis away: fail closed or open, spool settlements, replay them exactly once."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.errors import ServiceUnavailableError
from gateway.limits import (
    Budget,
    ManualClock,
    MemoryLimiterBackend,
    RateLimits,
    RedisLimiterBackend,
    ResilientLimiter,
    Settlement,
    SettlementSpool,
)
from tests.limits.conftest import MIDDAY, ask, connect
from tests.limits.flaky_proxy import FlakyProxy


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def dead_redis() -> AsyncIterator[RedisLimiterBackend]:
    client = aioredis.Redis(port=closed_port(), retry=Retry(NoBackoff(), 0), socket_connect_timeout=0.5)
    try:
        yield RedisLimiterBackend(client)
    finally:
        await client.aclose()


@pytest.fixture
async def live_redis(redis_url: str) -> AsyncIterator[RedisLimiterBackend]:
    client = connect(redis_url)
    await client.flushdb()
    try:
        yield RedisLimiterBackend(client)
    finally:
        await client.aclose()


def spend_of(request_id: str, cost: float) -> Settlement:
    return Settlement(request_id, "acme", "alice", "m", cost, 10, Budget(daily_usd=1.0))


async def test_redis_backend_translates_connection_errors(dead_redis: RedisLimiterBackend) -> None:
    with pytest.raises(ServiceUnavailableError) as caught:
        await dead_redis.admit(ask())
    assert isinstance(caught.value.__cause__, RedisConnectionError)
    assert caught.value.status == 503
    assert await dead_redis.ping() is False


async def test_fail_closed_refuses_admission(dead_redis: RedisLimiterBackend, tmp_path: Path) -> None:
    clock = ManualClock(MIDDAY)
    limiter = ResilientLimiter(
        dead_redis, MemoryLimiterBackend(clock), SettlementSpool(tmp_path / "spool.jsonl"), clock=clock
    )
    with pytest.raises(ServiceUnavailableError):
        await limiter.admit(ask())
    assert (limiter.healthy, limiter.degraded) == (False, False)
    with pytest.raises(ServiceUnavailableError):  # within the probe interval: refused without a connection attempt
        await limiter.admit(ask())
    with pytest.raises(ServiceUnavailableError):
        await limiter.spend("acme")
    assert await limiter.settle(spend_of("r1", 0.2)) == []  # spooled, not lost
    assert limiter.spool_pending


async def test_fail_open_admits_on_local_limits(dead_redis: RedisLimiterBackend, tmp_path: Path) -> None:
    clock = ManualClock(MIDDAY)
    limiter = ResilientLimiter(
        dead_redis, MemoryLimiterBackend(clock), SettlementSpool(tmp_path / "s.jsonl"), fail_mode="open", clock=clock
    )
    limits = RateLimits(rpm=2, max_concurrent=5)
    results = [await limiter.admit(ask(org_limits=limits, request_id=f"o{i}")) for i in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert results[-1].reason == "org_rpm"
    assert (limiter.healthy, limiter.degraded) == (False, True)
    assert await limiter.ping() is False


async def test_spool_replays_exactly_once(
    dead_redis: RedisLimiterBackend, live_redis: RedisLimiterBackend, tmp_path: Path
) -> None:
    path = tmp_path / "spool.jsonl"
    clock = ManualClock(MIDDAY)
    local = MemoryLimiterBackend(clock)
    down = ResilientLimiter(dead_redis, local, SettlementSpool(path), fail_mode="open", clock=clock)
    costs = [0.125, 0.25, 0.0625, 0.5]
    for i, cost in enumerate(costs):
        assert (await down.admit(ask(request_id=f"r{i}", reserve_usd=0.5))).allowed
        assert await down.settle(spend_of(f"r{i}", cost)) == []
    assert len(path.read_bytes().splitlines()) == len(costs)
    # Locally admitted requests were settled locally too: no slot or reservation is left behind.
    assert (await local.spend("acme")).reservations == 0
    # Simulate a crash after a partial replay: the first line was already applied once.
    await live_redis.settle(spend_of("r0", 0.125))

    spooled = path.read_bytes()
    up = ResilientLimiter(live_redis, MemoryLimiterBackend(clock), SettlementSpool(path), clock=clock)
    report = await up.replay_spool()
    assert report.replayed == len(costs)
    assert [(a.threshold, a.period) for a in report.alerts] == [(50, "daily"), (80, "daily")]
    assert not up.spool_pending
    assert (await live_redis.spend("acme")).daily_usd == sum(costs)
    # Replaying the same lines again (say the file was restored from a backup) changes nothing.
    path.write_bytes(spooled)
    again = await up.replay_spool()
    assert (again.replayed, again.alerts) == (len(costs), [])
    assert (await live_redis.spend("acme")).daily_usd == sum(costs)
    assert (await up.replay_spool()).replayed == 0


async def test_replay_is_idempotent_for_duplicated_lines(live_redis: RedisLimiterBackend, tmp_path: Path) -> None:
    spool = SettlementSpool(tmp_path / "spool.jsonl")
    for _ in range(2):
        for i, cost in enumerate((0.25, 0.5)):
            await spool.append(spend_of(f"d{i}", cost))
    (tmp_path / "spool.jsonl").open("ab").write(b'{"request_id": "torn')  # a crash mid-write
    report = await spool.replay(live_redis.settle)
    assert (report.replayed, report.skipped) == (4, 1)
    assert (await live_redis.spend("acme")).daily_usd == 0.75
    assert not spool.pending()


async def test_failed_replay_keeps_the_batch(dead_redis: RedisLimiterBackend, tmp_path: Path) -> None:
    spool = SettlementSpool(tmp_path / "spool.jsonl")
    await spool.append(spend_of("k", 0.3))
    limiter = ResilientLimiter(dead_redis, MemoryLimiterBackend(), spool)
    with pytest.raises(ServiceUnavailableError):
        await limiter.replay_spool()
    assert spool.pending()
    await spool.append(spend_of("k2", 0.1))  # new lines wait beside the retained batch
    assert spool.replaying_path.exists() and spool.path.exists()


async def test_one_limiter_lives_through_an_outage(redis_url: str, tmp_path: Path) -> None:
    proxy = FlakyProxy(redis_url)
    await proxy.start()
    client = aioredis.Redis.from_url(proxy.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=0.5)
    clock = ManualClock(MIDDAY)
    limiter = ResilientLimiter(
        RedisLimiterBackend(client),
        MemoryLimiterBackend(clock),
        SettlementSpool(tmp_path / "spool.jsonl"),
        fail_mode="open",
        clock=clock,
        probe_interval_s=5,
    )
    try:
        await client.flushdb()
        assert (await limiter.admit(ask(request_id="before", reserve_usd=0.1))).allowed
        await proxy.stop()
        assert (await limiter.admit(ask(request_id="during", reserve_usd=0.1))).allowed
        assert limiter.degraded
        assert await limiter.settle(spend_of("before", 0.25)) == []
        assert await limiter.settle(spend_of("during", 0.5)) == []
        await proxy.start()
        assert (await limiter.admit(ask(request_id="local-still"))).allowed
        assert limiter.degraded  # not probed again within the interval
        clock.advance(5)
        assert await limiter.ping()
        assert (limiter.healthy, limiter.degraded) == (True, False)
        report = await limiter.replay_spool()
        assert report.replayed == 2
        summary = await limiter.spend("acme")
        # Replay also ended the reservation made in Redis before the outage; the spend is all there.
        assert (summary.daily_usd, summary.reserved_usd, summary.reservations) == (0.75, 0.0, 0)
    finally:
        await client.aclose()
        await proxy.stop()
