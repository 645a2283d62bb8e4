"""Bursts and per-second limits in the one atomic admission: "100/min, bursts of 30, 10 per second".

Every test runs on the in-process backend (manual clock), on Redis and on a Redis Cluster (real time: the
batches are spaced by whole seconds and the assertions hold for any scheduling delay under 0.5 s).
"""

from __future__ import annotations

import asyncio
import random
from importlib import resources

import redis.asyncio as aioredis

from gateway.limits import RateLimits, gcra
from tests.limits.conftest import Harness, ask

ISSUE_LIMITS = RateLimits(rpm=100, burst=30, rps=10)


async def _batch(harness: Harness, count: int, **kwargs: object) -> list:
    return list(await asyncio.gather(*(harness.backend.admit(ask(**kwargs)) for _ in range(count))))  # type: ignore[arg-type]


async def test_per_second_limit_caps_a_spike(harness: Harness) -> None:
    results = await _batch(harness, 40, org_limits=ISSUE_LIMITS)
    assert sum(r.allowed for r in results) == 10
    refused = [r for r in results if not r.allowed]
    assert {r.reason for r in refused} == {"org_rps"}
    assert all(0 < r.retry_after_s <= 0.11 for r in refused)  # one more every 100 ms
    # The headers keep describing the per-minute limit: 10 of a burst of 30 are spent.
    assert (results[0].requests_limit, min(r.requests_remaining for r in results)) == (100, 20)


async def test_burst_of_30_then_the_per_minute_rate(harness: Harness) -> None:
    allowed = []
    for second in range(4):
        if second:
            await harness.advance(1.0)
        batch = await _batch(harness, 10, org_limits=ISSUE_LIMITS)
        allowed.append(sum(r.allowed for r in batch))
        if second == 3:
            refused = [r for r in batch if not r.allowed]
    # 30 pass in the first seconds (10 per second); then 100/min refills one every 0.6 s: 3 s in, 5 more fit.
    assert allowed == [10, 10, 10, 5]
    assert {r.reason for r in refused} == {"org_rpm"}
    assert all(0 < r.retry_after_s <= 0.61 for r in refused)


async def test_burst_without_per_second_limit(harness: Harness) -> None:
    results = await _batch(harness, 50, org_limits=RateLimits(rpm=100, burst=30))
    assert sum(r.allowed for r in results) == 30
    assert {r.reason for r in results if not r.allowed} == {"org_rpm"}
    assert all(r.requests_remaining == 0 for r in results if not r.allowed)
    # Without a burst the whole minute's allowance may start at once, as before.
    assert sum(r.allowed for r in await _batch(harness, 120, org="other", org_limits=RateLimits(rpm=100))) == 100


async def test_subject_burst_and_rps(harness: Harness) -> None:
    subject = RateLimits(rpm=60, burst=5, rps=3)
    first = await _batch(harness, 8, subject_limits=subject)
    assert sum(r.allowed for r in first) == 3
    assert {r.reason for r in first if not r.allowed} == {"subject_rps"}
    await harness.advance(1.0)
    second = await _batch(harness, 8, subject_limits=subject)
    # 60/min refilled one in that second: of the burst of 5, 2 are still out, so 3 pass (the rps allows 3 too).
    assert sum(r.allowed for r in second) == 3
    bob = await _batch(harness, 3, subject="bob", subject_limits=subject)
    assert all(r.allowed for r in bob)


async def test_refused_requests_consume_nothing(harness: Harness) -> None:
    await _batch(harness, 20, org_limits=ISSUE_LIMITS)
    await harness.advance(1.0)
    # The 10 refused by the per-second limit did not eat into the burst: 10 more pass now.
    assert sum(r.allowed for r in await _batch(harness, 10, org_limits=ISSUE_LIMITS)) == 10


async def test_lua_gcra_with_period_and_burst_matches_python(redis_client: aioredis.Redis) -> None:
    probe = resources.files("gateway.limits").joinpath("common.lua").read_text()
    script = redis_client.register_script(
        probe + "local ok, tat, wait, rem = gcra_check(num(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), "
        "tonumber(ARGV[4]), tonumber(ARGV[5]), num(ARGV[6])) return {ok and 1 or 0, fmt(tat), fmt(wait), rem}"
    )
    rng = random.Random(16)
    for _ in range(300):
        limit = rng.choice([1, 7, 10, 100, 999])
        period = rng.choice([1000.0, 60_000.0])
        burst = rng.choice([None, 1, rng.randint(1, limit * 2)])
        now = rng.uniform(0, 1e12)
        tat = rng.choice([None, now + rng.uniform(-period, 2 * period)])
        cost = rng.choice([0, 1, rng.randint(1, 5)])
        args = ["" if tat is None else repr(tat), repr(now), limit, cost, repr(period), "" if burst is None else burst]
        ok, lua_tat, wait, rem = await script(args=args)
        expected = gcra.check(tat, now, limit, cost, period_ms=period, burst=burst)
        assert bool(ok) == expected.allowed
        assert float(lua_tat) == expected.tat_ms
        assert float(wait) == expected.retry_after_ms
        assert rem == expected.remaining
