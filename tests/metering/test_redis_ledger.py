from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.limits.pipelined import PipelinedRedis
from gateway.metering import LedgerRecord, RedisStreamLedger
from gateway.metering.redis_ledger import marker_key
from gateway.spool_file import SpoolFile
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


async def test_records_redis_refused_are_spooled_then_replayed_exactly_once(
    redis_client: aioredis.Redis, tmp_path: Path, ledger_on: LedgerFactory
) -> None:
    errors: list[int] = []
    spool = SpoolFile(tmp_path / "ledger.jsonl")
    unreachable = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    down = ledger_on(unreachable, stream_key="t:ledger", spool=spool, on_error=lambda: errors.append(1))
    records = [make_record() for _ in range(5)]
    try:
        for record in records:
            await down.append(record)
        with pytest.raises((RedisError, OSError)):
            await down.replay_spool()  # still away: the batch stays on disk
    finally:
        await unreachable.aclose()
    assert errors == [] and spool.pending()  # spooled, so not lost and not counted as lost
    up = ledger_on(redis_client, stream_key="t:ledger", spool=SpoolFile(tmp_path / "ledger.jsonl"))
    await up.append(records[0])  # already in Redis before the replay: the replay must not add it again
    assert await up.replay_spool() == 5
    assert await up.replay_spool() == 0
    assert not spool.pending()
    # A batch's appends run concurrently (on redis-py, over several pooled connections): any order within it.
    stored = await up.read(org=None, since=None, limit=100)
    assert sorted(stored, key=lambda r: r.request_id) == sorted(records, key=lambda r: r.request_id)
    assert await redis_client.xlen("t:ledger") == 5


async def test_a_replayed_batch_is_deduplicated_by_request_id(
    redis_client: aioredis.Redis, tmp_path: Path, ledger_on: LedgerFactory
) -> None:
    # A crash after the replay's appends but before the batch was deleted replays the whole batch again.
    records = [make_record() for _ in range(3)]
    for attempt in range(2):
        path = tmp_path / "ledger.jsonl"
        path.write_bytes(b"".join(record.to_json() + b"\n" for record in records))
        ledger = ledger_on(redis_client, stream_key="t:ledger", spool=SpoolFile(path))
        assert await ledger.replay_spool() == 3, attempt
    assert await redis_client.xlen("t:ledger") == 3


async def test_entries_older_than_the_maximum_age_are_trimmed(
    redis_client: aioredis.Redis, ledger_on: LedgerFactory
) -> None:
    await redis_client.xadd("t:ledger", {"r": make_record().to_json()}, id="1000-0")  # appended in 1970
    ledger = ledger_on(redis_client, stream_key="t:ledger", max_age_s=3600, approximate=False)
    fresh = make_record()
    await ledger.append(fresh)
    assert await ledger.read(org=None, since=None, limit=10) == [fresh]


def test_markers_share_the_streams_cluster_slot() -> None:
    assert marker_key("gw:ledger", "abc") == "{gw:ledger}:seen:abc"
    assert marker_key("gw:{tenant}:ledger", "abc") == "gw:{tenant}:ledger:seen:abc"
