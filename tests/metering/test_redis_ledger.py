from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.limits.pipelined import PipelinedRedis
from gateway.metering import LedgerRecord, RedisStreamLedger
from tests.metering.conftest import BASE, make_record

LedgerFactory = Callable[..., RedisStreamLedger]


@pytest.fixture(params=["redis-py", "pipelined"])
async def ledger_on(request: pytest.FixtureRequest) -> AsyncIterator[LedgerFactory]:
    """Ledgers writing through redis-py's pipeline or through the hot path's pipelined connection."""
    connections: list[PipelinedRedis] = []

    def make(client: aioredis.Redis, **options: Any) -> RedisStreamLedger:
        pipelined = PipelinedRedis.mirroring(client) if request.param == "pipelined" else None
        if pipelined is not None:
            connections.append(pipelined)
        return RedisStreamLedger(client, pipelined=pipelined, **options)

    yield make
    for connection in connections:
        await connection.aclose()


async def test_append_then_read_filters_by_org_and_since(
    redis_client: aioredis.Redis, records_at: Callable[[int], list[LedgerRecord]], ledger_on: LedgerFactory
) -> None:
    ledger = ledger_on(redis_client, stream_key="t:ledger", batch=3)  # small batch: read must page
    records = records_at(10)
    for record in records:
        await ledger.append(record)
    raw = await redis_client.xrange("t:ledger", count=1)
    assert LedgerRecord.from_json(raw[0][1][b"r"]) == records[0]
    assert await ledger.read(org=None, since=None, limit=100) == records
    assert await ledger.read(org="acme", since=None, limit=100) == records[0::2]
    assert await ledger.read(org="globex", since=None, limit=2) == [records[7], records[9]]
    assert await ledger.read(org=None, since=BASE + timedelta(minutes=6), limit=100) == records[6:]
    assert await ledger.read(org="acme", since=BASE + timedelta(minutes=6), limit=100) == [records[6], records[8]]
    assert await ledger.read(org="nobody", since=None, limit=100) == []


async def test_since_uses_the_record_time_not_only_the_entry_id(
    redis_client: aioredis.Redis, ledger_on: LedgerFactory
) -> None:
    # Entry ids are "now"; a record stamped a day ago is older than `since` even though its entry is new.
    ledger = ledger_on(redis_client, stream_key="t:ledger")
    old, recent = make_record(at=BASE), make_record(at=BASE + timedelta(days=1))
    await ledger.append(old)
    await ledger.append(recent)
    assert await ledger.read(org=None, since=BASE + timedelta(hours=1), limit=10) == [recent]


async def test_exact_maxlen_trimming(redis_client: aioredis.Redis, ledger_on: LedgerFactory) -> None:
    ledger = ledger_on(redis_client, stream_key="t:ledger", maxlen=5, approximate=False)
    records = [make_record() for _ in range(12)]
    for record in records:
        await ledger.append(record)
    assert await redis_client.xlen("t:ledger") == 5
    assert await ledger.read(org=None, since=None, limit=100) == records[-5:]


async def test_approximate_maxlen_trimming_bounds_the_stream(
    redis_client: aioredis.Redis, ledger_on: LedgerFactory
) -> None:
    ledger = ledger_on(redis_client, stream_key="t:ledger", maxlen=100)
    for _ in range(1000):
        await ledger.append(make_record())
    length = await redis_client.xlen("t:ledger")
    # Redis trims whole internal nodes (100 entries by default), so the stream keeps a little over maxlen.
    assert 100 <= length < 300


async def test_entries_from_other_writers_are_skipped(redis_client: aioredis.Redis, ledger_on: LedgerFactory) -> None:
    ledger = ledger_on(redis_client, stream_key="t:ledger")
    await redis_client.xadd("t:ledger", {"other": "x"})
    await redis_client.xadd("t:ledger", {"r": "not json"})
    record = make_record()
    await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=10) == [record]


async def test_append_failure_is_counted_not_raised(ledger_on: LedgerFactory) -> None:
    errors: list[int] = []
    unreachable = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    ledger = ledger_on(unreachable, on_error=lambda: errors.append(1))
    try:
        await ledger.append(make_record())
        await ledger.append(make_record())
    finally:
        await unreachable.aclose()
    assert errors == [1, 1]
