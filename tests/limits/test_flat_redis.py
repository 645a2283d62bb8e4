"""Redis stays flat: settling a call leaves no key of its own, and a replayed settlement is still a no-op."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from gateway.limits import Budget, RateLimits, RedisLimiterBackend, Settlement
from gateway.limits.keys import OrgKeys
from gateway.limits.spool import SettlementSpool
from gateway.settings import Settings
from gateway.shared_state import open_shared_state
from tests.limits.conftest import ask

LIMITS = RateLimits(rpm=100_000, tpm=10_000_000, max_concurrent=1_000)
BUDGET = Budget(daily_usd=1_000.0, monthly_usd=10_000.0)
_ORG = OrgKeys("acme")
# Rate-limit state expires as soon as the limit is replenished (milliseconds here), so these come and go.
TATS = {_ORG.rpm, _ORG.tpm, _ORG.subject("alice").rpm, _ORG.subject("alice").tpm}


async def _keys(client: aioredis.Redis) -> set[str]:
    return {key.decode() async for key in client.scan_iter("*")}


async def _calls(backend: RedisLimiterBackend, prefix: str, count: int) -> list[Settlement]:
    """`count` calls admitted (with reservations, limits and a budget) and settled, as the gateway does."""
    settlements = []
    for i in range(count):
        request = ask(request_id=f"{prefix}-{i}", org_limits=LIMITS, subject_limits=LIMITS, budget=BUDGET,
                      tokens=10, reserve_usd=0.01)
        assert (await backend.admit(request)).allowed
        settlements.append(Settlement(request.request_id, "acme", "alice", "m", 0.001, 8, BUDGET))
    await asyncio.gather(*(backend.settle(s) for s in settlements))
    return settlements


async def test_settled_calls_leave_no_key_of_their_own(redis_client: aioredis.Redis) -> None:
    backend = RedisLimiterBackend(redis_client)
    try:
        await _calls(backend, "first", 5)
        after_few = await _keys(redis_client)
        settlements = await _calls(backend, "second", 200)
        after_many = await _keys(redis_client)
        # 200 more calls, no new key: the count depends on orgs and subjects, never on calls.
        assert after_many - after_few <= TATS, after_many - after_few
        assert len(after_many) <= 12, after_many
        assert not [key for key in after_many if any(s.request_id in key for s in settlements)]
        summary = await backend.spend("acme")
        assert (summary.reservations, summary.reserved_usd) == (0, 0.0)
    finally:
        await backend.aclose()


async def test_replayed_settlements_are_a_no_op(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    backend = RedisLimiterBackend(redis_client)
    try:
        settlements = await _calls(backend, "call", 20)
        spent = (await backend.spend("acme")).daily_usd
        keys = await _keys(redis_client)
        # As after a settlement whose reply was lost: it also went to the spool, and the spool is replayed.
        spool = SettlementSpool(tmp_path / "spool.jsonl")
        for settlement in settlements:
            await spool.append(settlement)
        report = await spool.replay(backend.settle)
        assert report.replayed == 20
        assert (await backend.spend("acme")).daily_usd == spent
        assert abs(spent - 0.02) < 1e-9
        assert await _keys(redis_client) <= keys  # the replay wrote nothing new
    finally:
        await backend.aclose()


async def test_markers_last_only_the_idempotency_window(redis_client: aioredis.Redis) -> None:
    backend = RedisLimiterBackend(redis_client, idempotency_ttl_s=0.3)
    markers = _ORG.settled
    try:
        await backend.settle(Settlement("early", "acme", "alice", "m", 0.5, 0))
        await backend.settle(Settlement("early", "acme", "alice", "m", 0.5, 0))  # within the window: a no-op
        assert await redis_client.zcard(markers) == 1
        assert (await backend.spend("acme")).daily_usd == 0.5
        await asyncio.sleep(0.4)
        await backend.settle(Settlement("later", "acme", "alice", "m", 0.25, 0))
        # The expired marker went with the next settlement of the org; only the live one is held.
        assert [m.decode() for m in await redis_client.zrange(markers, 0, -1)] == ["later"]
        await asyncio.sleep(0.4)
        assert not await redis_client.exists(markers)  # an idle org keeps no set at all
    finally:
        await backend.aclose()


async def test_the_window_is_the_settings_one(redis_client: aioredis.Redis, redis_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_url, settlement_idempotency_s=0.5, spool_dir=str(tmp_path))
    store = open_shared_state(settings)
    try:
        await store.backend.settle(Settlement("configured", "acme", "alice", "m", 0.1, 0))
        assert 0 < await redis_client.pttl(_ORG.settled) <= 500
    finally:
        await store.aclose()
