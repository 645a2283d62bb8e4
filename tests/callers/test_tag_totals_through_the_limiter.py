"""The limits stage's part of totals by tag: only the tags the policy names are counted, exactly, under load."""

from __future__ import annotations

import asyncio

import httpx
import redis.asyncio as aioredis

from gateway.alerts import AlertNotifier
from gateway.auth.principal import ApiKeyGrant, Principal
from gateway.catalogue import ModelPrice
from gateway.estimate import CostEstimate
from gateway.limits import RedisLimiterBackend
from gateway.limits.limiter import Limiter
from gateway.metrics import Metrics
from gateway.policy.compiler import OrgSettings

SETTINGS = OrgSettings(rpm=None, tpm=None, max_concurrent=None, subject_rpm=None, subject_tpm=None,
                       subject_max_concurrent=None, daily_budget_usd=100.0, monthly_budget_usd=None,
                       max_completion_tokens=100, totalled_tags=("run_id", "session_id"), tag_retention_s=3600.0)
ESTIMATE = CostEstimate(prompt_tokens=10, completion_tokens=100, price=ModelPrice(prompt=1e-6, completion=2e-6))


async def test_100_concurrent_calls_total_exactly_and_only_totalled_tags_count(redis_client: aioredis.Redis) -> None:
    backend = RedisLimiterBackend(redis_client)
    async with httpx.AsyncClient() as http:
        metrics = Metrics()
        limiter = Limiter(backend, AlertNotifier(http, None, metrics), metrics, reservation_ttl_s=60)
        principal = Principal("acme", "alice", frozenset(), ApiKeyGrant("key_1", "ci", daily_usd=10.0))
        tickets = await asyncio.gather(*(limiter.admit(principal, SETTINGS, ESTIMATE, 1) for _ in range(100)))
        costs = [0.000_017 * (i + 1) for i in range(100)]
        await asyncio.gather(*(
            limiter.settle(ticket, model="m", cost_usd=cost, tokens=5,
                           tags={"run_id": "run-42", "user_note": "not totalled"})
            for ticket, cost in zip(tickets, costs, strict=True)
        ))
    totals = await backend.tag_totals("acme", "run_id", "run-42")
    expected = sum(round(cost * 1e9) for cost in costs) / 1e9
    assert (totals.calls, totals.tokens) == (100, 500) and abs(totals.cost_usd - expected) < 1e-12
    assert (await backend.tag_totals("acme", "user_note", "not totalled")).calls == 0
    key = await backend.key_spend("acme", "key_1")
    assert abs(key.total_usd - expected) < 1e-12 and key.reserved_usd == 0.0
    assert abs((await backend.spend("acme")).daily_usd - expected) < 1e-12
    # Counters carry a TTL, so memory stays bounded once a run is over.
    ttl = await redis_client.pttl(next(iter(await redis_client.keys("gw:{acme}:tag:*"))))
    assert 3_500_000 < ttl <= 3_600_000
