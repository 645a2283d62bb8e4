"""What only the Redis backend has: one cluster slot per org, replicas sharing state, NOSCRIPT recovery."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.limits import Budget, RateLimits, RedisLimiterBackend, Settlement
from tests.limits.conftest import ask, connect


async def test_every_key_of_an_org_shares_one_hash_slot(redis_client: aioredis.Redis) -> None:
    backend = RedisLimiterBackend(redis_client)
    limits = RateLimits(rpm=10, tpm=1000, max_concurrent=5)
    budget = Budget(daily_usd=1.0, monthly_usd=10.0)
    await backend.set_overrides("acme", RateLimits(rpm=20), budget)
    for subject in ("alice", "bob:with:colons"):
        req = ask(subject=subject, org_limits=limits, subject_limits=limits, budget=budget, tokens=5, reserve_usd=0.1)
        assert (await backend.admit(req)).allowed
        await backend.settle(Settlement(req.request_id, "acme", subject, "m", 0.3, 5, budget))
    assert (await backend.admit(ask(subject="carol", org_limits=limits, budget=budget, reserve_usd=0.1))).allowed
    keys = [k.decode() async for k in redis_client.scan_iter("gw:{acme}*")]
    # rpm/tpm TATs (org and both subjects), reservations, spend, alerts, overrides, settled markers...
    assert len(keys) >= 15
    assert {key_slot(k.encode()) for k in keys} == {key_slot(b"{acme}")}
    outside = {k.decode() async for k in redis_client.scan_iter("*")} - set(keys)
    assert outside == {"gw:orgs"}


async def test_two_replicas_share_limits_and_alert_once(redis_url: str) -> None:
    first_client, second_client = connect(redis_url), connect(redis_url)
    await first_client.flushdb()
    try:
        replicas = [RedisLimiterBackend(first_client), RedisLimiterBackend(second_client)]
        limits = RateLimits(rpm=40)
        admitted = await asyncio.gather(*(replicas[i % 2].admit(ask(org_limits=limits)) for i in range(120)))
        assert sum(a.allowed for a in admitted) == 40
        budget = Budget(daily_usd=5.0, monthly_usd=8.0)
        batches = await asyncio.gather(
            *(replicas[i % 2].settle(Settlement(f"s{i}", "acme", "a", "m", 0.1, 0, budget)) for i in range(100))
        )
        alerts = sorted((a.period, a.threshold) for batch in batches for a in batch)
        assert alerts == [
            ("daily", 50),
            ("daily", 80),
            ("daily", 100),
            ("monthly", 50),
            ("monthly", 80),
            ("monthly", 100),
        ]
        # A settlement retried on the other replica is still counted once.
        await replicas[1].settle(Settlement("s0", "acme", "a", "m", 0.1, 0, budget))
        assert abs((await replicas[0].spend("acme")).daily_usd - 10.0) < 1e-9
    finally:
        await first_client.aclose()
        await second_client.aclose()


async def test_scripts_survive_script_flush(redis_client: aioredis.Redis) -> None:
    backend = RedisLimiterBackend(redis_client)
    assert (await backend.admit(ask(org_limits=RateLimits(rpm=1)))).allowed
    await redis_client.script_flush()  # as after a Redis restart or failover: EVALSHA gets NOSCRIPT
    assert (await backend.admit(ask(org_limits=RateLimits(rpm=1)))).reason == "org_rpm"
    await redis_client.script_flush()
    await backend.settle(Settlement("x", "acme", "a", "m", 0.5, 0))
    assert (await backend.spend("acme")).daily_usd == 0.5
