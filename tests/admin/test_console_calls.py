"""Paging and filtering of the calls view without a server: the in-process ledger, the scan cap, the query, and
the Redis stream reader on a real Redis with ten thousand records."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
import redis.asyncio as aioredis

from gateway.admin import calls
from gateway.admin.calls import CallQuery, Entry, LedgerCalls, StreamCalls
from gateway.admin.ui_files import UI_DIRECTORY
from gateway.errors import InvalidRequestError
from gateway.metering.ledger import MemoryLedger
from gateway.metering.record import LedgerRecord, utc_timestamp
from gateway.metering.redis_ledger import RedisStreamLedger

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(index: int, org: str = "acme", status: int = 200, tags: dict[str, str] | None = None,
           model: str = "openai/gpt-4o-mini") -> LedgerRecord:
    return LedgerRecord(request_id=f"r{index}", timestamp=utc_timestamp(START + timedelta(seconds=index)), org=org,
                        subject="alice", task=None, model_requested=model, model_routed=model, model_served=model,
                        status=status, tags=tags or {}, cost_usd=0.001)


async def memory_source(records: list[LedgerRecord]) -> LedgerCalls:
    ledger = MemoryLedger()
    for item in records:
        await ledger.append(item)
    return LedgerCalls(ledger)


async def all_pages(source: calls.CallSource, query: CallQuery, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        found = await calls.page(source, "acme", query, after=cursor, limit=limit)
        pages.append([item.request_id for item in found.records])
        if found.cursor is None:
            return pages
        cursor = found.cursor


async def test_in_process_ledger_pages_newest_first_and_only_the_org() -> None:
    source = await memory_source([record(i, org="acme" if i % 2 else "other") for i in range(10)])
    assert await all_pages(source, CallQuery(), 2) == [["r9", "r7"], ["r5", "r3"], ["r1"]]


async def test_a_page_stops_after_the_scan_cap_and_resumes_there() -> None:
    class Counting:
        def __init__(self) -> None:
            self.read = 0

        async def scan(self, *, org: str, since: datetime | None, after: str | None) -> AsyncIterator[Entry]:
            start = 0 if after is None else int(after) + 1
            for index in range(start, 100):
                self.read += 1
                yield str(index), record(99 - index, status=500 if index in (5, 60) else 200)

    source = Counting()
    first = await calls.page(source, "acme", CallQuery(status="error"), after=None, limit=10, max_scan=30)
    assert [item.request_id for item in first.records] == ["r94"] and first.cursor == "29"
    assert source.read == 31  # the cap, plus the one entry that showed there is more
    second = await calls.page(source, "acme", CallQuery(status="error"), after=first.cursor, limit=10, max_scan=30)
    assert second.records == [] and second.cursor == "59"
    third = await calls.page(source, "acme", CallQuery(status="error"), after=second.cursor, limit=10, max_scan=30)
    assert [item.request_id for item in third.records] == ["r39"]


def test_query_from_parameters() -> None:
    query = CallQuery.from_params({"tag": "run_id=exp:1", "status": "ok", "since": "2026-03-01",
                                   "until": "2026-03-01T12:00:05Z", "model": "openai/gpt-4o-mini"})
    assert (query.tag_key, query.tag_value) == ("run_id", "exp:1")
    assert query.since == datetime(2026, 3, 1, tzinfo=UTC)
    assert [query.matches(record(i, tags={"run_id": "exp:1"})) for i in (4, 5)] == [True, False]
    assert not query.matches(record(1, tags={"run_id": "exp:2"}))
    assert not query.matches(record(1, tags={"run_id": "exp:1"}, status=502))
    assert not query.matches(record(1, tags={"run_id": "exp:1"}, model="openai/gpt-4o"))
    assert CallQuery.from_params({"tag": "run_id:x"}).tag_value == "x"
    assert CallQuery.from_params({"tag": "run_id"}).tag_value is None
    assert CallQuery.from_params({"status": "", "model": ""}) == CallQuery()
    with pytest.raises(InvalidRequestError):
        CallQuery.from_params({"status": "2xx"})


async def test_in_process_cursor_must_be_a_position() -> None:
    source = await memory_source([record(1)])
    with pytest.raises(InvalidRequestError):
        await calls.page(source, "acme", CallQuery(), after="1796529703722-0", limit=5)


async def test_stream_pages_through_ten_thousand_calls(redis_client: aioredis.Redis) -> None:
    ledger = RedisStreamLedger(redis_client, stream_key="gw:test:ledger")
    for index in range(10_000):
        await ledger.append(record(index, org="acme" if index % 5 else "other",
                                   tags={"run_id": "big" if index % 10 == 1 else "small"}))
    source = StreamCalls(redis_client, "gw:test:ledger")
    pages = await all_pages(source, CallQuery(tag_key="run_id", tag_value="big"), 100)
    assert [len(page) for page in pages] == [100] * 10
    flat = [request_id for page in pages for request_id in page]
    assert flat == [f"r{index}" for index in range(9991, 0, -10)]
    unfiltered = await calls.page(source, "acme", CallQuery(), after=None, limit=500)
    assert len(unfiltered.records) == 500 and unfiltered.records[0].request_id == "r9999"
    found = await calls.find(source, "acme", "r1")
    assert found is not None and found.tags == {"run_id": "big"}
    assert await calls.find(source, "acme", "r0") is None  # another org's call
    exported = [item.request_id async for item in calls.matching(source, "acme", CallQuery(), limit=7)]
    assert exported == ["r9999", "r9998", "r9997", "r9996", "r9994", "r9993", "r9992"]


def test_every_console_file_ships_in_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["gateway.admin"]
    shipped = [path.relative_to(UI_DIRECTORY.parent).as_posix() for path in UI_DIRECTORY.rglob("*") if path.is_file()]
    assert "ui/index.html" in shipped and "ui/views/calls.js" in shipped
    for name in shipped:
        # setuptools globs: `*` stops at a slash, as in PurePosixPath.match.
        assert any(PurePosixPath(name).match(pattern) for pattern in patterns), name
