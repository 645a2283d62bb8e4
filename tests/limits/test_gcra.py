"""The pure GCRA and calendar math, and that the Lua copies in common.lua agree with it."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from importlib import resources

import redis.asyncio as aioredis

from gateway.limits import gcra
from gateway.limits.periods import periods_at


def test_fresh_limit_admits_exactly_its_capacity_at_once() -> None:
    for limit in (1, 7, 50, 60, 1000):
        tat = None
        admitted = 0
        for _ in range(limit + 5):
            outcome = gcra.check(tat, 0.0, limit, 1)
            if outcome.allowed:
                tat = outcome.tat_ms
                admitted += 1
        assert admitted == limit


def test_rejection_says_when_the_next_unit_fits() -> None:
    tat = None
    for _ in range(60):
        tat = gcra.check(tat, 0.0, 60, 1).tat_ms
    refused = gcra.check(tat, 0.0, 60, 1)
    assert not refused.allowed
    assert abs(refused.retry_after_ms - 1000.0) < 1e-6
    assert refused.remaining == 0
    assert gcra.check(tat, 1000.0, 60, 1).allowed


def test_shift_refunds_and_charges() -> None:
    assert gcra.shift(10_000.0, 0.0, -100, 60.0) == 4_000.0
    assert gcra.shift(1_000.0, 0.0, -100, 60.0) is None  # fully replenished
    assert gcra.shift(None, 500.0, 10, 60.0) == 1_100.0  # a debt starts from now


def test_periods_at_month_and_year_edges() -> None:
    p = periods_at(datetime(2025, 1, 31, 23, 59, 30, tzinfo=UTC).timestamp())
    assert (p.day, p.month, p.day_reset_s, p.month_reset_s) == ("2025-01-31", "2025-01", 30.0, 30.0)
    p = periods_at(datetime(2024, 12, 31, 12, tzinfo=UTC).timestamp())
    assert (p.month, p.month_reset_s) == ("2024-12", 12 * 3600.0)
    p = periods_at(datetime(2024, 2, 28, tzinfo=UTC).timestamp())
    assert p.month_reset_s == 2 * 86_400.0  # leap year


async def test_lua_calendar_matches_python(redis_client: aioredis.Redis) -> None:
    probe = resources.files("gateway.limits").joinpath("common.lua").read_text()
    script = redis_client.register_script(
        probe + "local d, m, dr, mr = periods_at(tonumber(ARGV[1])) return {d, m, fmt(dr), fmt(mr)}"
    )
    rng = random.Random(7)
    edges = [datetime(y, mo, 1, tzinfo=UTC).timestamp() - 0.001 for y in (2024, 2025, 2100) for mo in (1, 2, 3, 12)]
    samples = edges + [rng.uniform(0, 4_102_444_800) for _ in range(200)]
    for epoch_s in samples:
        day, month, day_reset, month_reset = await script(args=[repr(epoch_s * 1000)])
        expected = periods_at(epoch_s)
        assert (day.decode(), month.decode()) == (expected.day, expected.month), epoch_s
        assert abs(float(day_reset) - expected.day_reset_s) < 1e-3
        assert abs(float(month_reset) - expected.month_reset_s) < 1e-3


async def test_lua_gcra_matches_python(redis_client: aioredis.Redis) -> None:
    probe = resources.files("gateway.limits").joinpath("common.lua").read_text()
    script = redis_client.register_script(
        probe + "local ok, tat, wait, rem = gcra_check(num(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), "
        "tonumber(ARGV[4])) return {ok and 1 or 0, fmt(tat), fmt(wait), rem}"
    )
    rng = random.Random(3)
    for _ in range(200):
        limit = rng.choice([1, 7, 60, 999, 100_000])
        now = rng.uniform(0, 1e12)
        tat = rng.choice([None, now + rng.uniform(-60_000, 120_000)])
        cost = rng.choice([0, 1, rng.randint(1, limit * 2)])
        ok, lua_tat, wait, rem = await script(args=["" if tat is None else repr(tat), repr(now), limit, cost])
        expected = gcra.check(tat, now, limit, cost)
        assert bool(ok) == expected.allowed
        assert float(lua_tat) == expected.tat_ms
        assert float(wait) == expected.retry_after_ms
        assert rem == expected.remaining
