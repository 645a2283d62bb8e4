from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson

from gateway.metering import JsonlLedger, LedgerRecord
from tests.metering.conftest import BASE, make_record

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _sizes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in directory.iterdir() if not p.name.startswith(".")}


async def test_append_read_and_filters(tmp_path: Path, records_at: Callable[[int], list[LedgerRecord]]) -> None:
    ledger = JsonlLedger(tmp_path)
    records = records_at(6)
    for record in records:
        await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=100) == records
    assert await ledger.read(org="globex", since=BASE + timedelta(minutes=2), limit=100) == [records[3], records[5]]
    assert await ledger.read(org=None, since=None, limit=2) == records[-2:]
    await ledger.aclose()


async def test_aclose_flushes_everything_queued(tmp_path: Path) -> None:
    ledger = JsonlLedger(tmp_path)
    records = [make_record() for _ in range(250)]
    for record in records:
        await ledger.append(record)
    await ledger.aclose()
    assert [LedgerRecord.from_json(line) for line in _lines(ledger.path)] == records


async def test_concurrent_appends_all_land(tmp_path: Path) -> None:
    ledger = JsonlLedger(tmp_path, batch=7)
    records = [make_record() for _ in range(500)]
    await asyncio.gather(*(ledger.append(record) for record in records))
    await ledger.aclose()
    written = [orjson.loads(line)["request_id"] for line in _lines(ledger.path)]
    assert sorted(written) == sorted(r.request_id for r in records)


async def test_rotation_by_size_keeps_the_newest_records(tmp_path: Path) -> None:
    line_bytes = len(make_record().to_json()) + 1
    ledger = JsonlLedger(tmp_path, max_bytes=line_bytes * 5, backups=2)
    records = [make_record() for _ in range(40)]
    for record in records:
        await ledger.append(record)
    await ledger.aclose()
    sizes = _sizes(tmp_path)
    assert sorted(sizes) == ["ledger.jsonl", "ledger.jsonl.1", "ledger.jsonl.2"]
    assert max(sizes.values()) <= line_bytes * 5
    reopened = JsonlLedger(tmp_path, max_bytes=line_bytes * 5, backups=2)
    kept = await reopened.read(org=None, since=None, limit=1000)
    assert 10 < len(kept) <= 15
    assert kept == records[-len(kept):]


async def test_rotation_without_backups_starts_over(tmp_path: Path) -> None:
    line_bytes = len(make_record().to_json()) + 1
    ledger = JsonlLedger(tmp_path, max_bytes=line_bytes * 3, backups=0)
    records = [make_record() for _ in range(10)]
    for record in records:
        await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=100) == records[9:]
    await ledger.aclose()


async def test_torn_last_line_is_skipped_and_not_glued_to_the_next(tmp_path: Path) -> None:
    (tmp_path / "ledger.jsonl").write_bytes(make_record().to_json()[:40])
    ledger = JsonlLedger(tmp_path)
    record = make_record()
    await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=10) == [record]
    await ledger.aclose()


async def test_write_failures_are_counted_not_raised(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    errors: list[int] = []
    ledger = JsonlLedger(not_a_directory, on_error=lambda: errors.append(1))
    for _ in range(3):
        await ledger.append(make_record())
    await ledger.aclose()
    await ledger.append(make_record())  # after close: refused, counted
    assert len(errors) == 4


async def test_appends_do_not_wait_for_a_stuck_disk(tmp_path: Path) -> None:
    # A FIFO in place of the file: opening it for writing blocks until a reader comes, like a hung disk.
    os.mkfifo(tmp_path / "ledger.jsonl")
    ledger = JsonlLedger(tmp_path)
    records = [make_record() for _ in range(100)]
    started = time.perf_counter()
    for record in records:
        await ledger.append(record)
    await asyncio.sleep(0.05)  # the writer is now blocked in its thread; the loop must still run
    assert time.perf_counter() - started < 1.0

    def drain_fifo() -> bytes:
        with open(tmp_path / "ledger.jsonl", "rb") as fifo:
            return fifo.read()

    reader = asyncio.create_task(asyncio.to_thread(drain_fifo))
    await ledger.aclose()
    data = await reader
    assert [LedgerRecord.from_json(line) for line in data.splitlines()] == records


_WRITER = """
import asyncio, sys
from gateway.metering import JsonlLedger
from tests.metering.conftest import make_record

async def main() -> None:
    ledger = JsonlLedger(sys.argv[1], max_bytes=int(sys.argv[2]), backups=100, batch=3)
    for i in range(300):
        await ledger.append(make_record(org=sys.argv[3], request_id=f"{sys.argv[3]}-{i}"))
        if i % 10 == 0:
            await asyncio.sleep(0)
    await ledger.aclose()

asyncio.run(main())
"""


def test_several_processes_share_one_directory(tmp_path: Path) -> None:
    max_bytes = 20_000  # forces many rotations while both processes write
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(max_bytes), org], cwd=ROOT)
             for org in ("p1", "p2")]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("ledger.jsonl")]
    assert len(files) > 2
    ids = [orjson.loads(line)["request_id"] for path in files for line in _lines(path)]
    assert sorted(ids) == sorted(f"{org}-{i}" for org in ("p1", "p2") for i in range(300))
    assert all(path.stat().st_size <= max_bytes for path in files)
