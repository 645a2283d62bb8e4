"""`gateway calls` against a JSONL ledger directory and the Redis ledger stream."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import redis

from gateway.cli import main
from gateway.metering import JsonlLedger, LedgerRecord, import_records
from tests.metering.conftest import BASE, make_record
from tests.redis_server import TEST_DB


def _build_records() -> list[LedgerRecord]:
    records = []
    for i in range(6):
        record = make_record(org="acme" if i % 2 == 0 else "globex", at=BASE + timedelta(minutes=i),
                             status=200, latency_ms=812.4, model_served="openai/gpt-4o-mini-2024-07-18")
        record.add_usage({"prompt_tokens": 10 + i, "completion_tokens": 5, "cost": 0.0001 * (i + 1)})
        records.append(record)
    records[-1].cost_source = "generation"
    return records


RECORDS = _build_records()


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    async def write() -> None:
        ledger = JsonlLedger(tmp_path)
        for record in RECORDS:
            await ledger.append(record)
        await ledger.aclose()

    asyncio.run(write())
    return tmp_path


def test_table_lists_the_newest_calls_oldest_first_with_a_total(ledger_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["request", "id", "time", "org", "model", "served", "in", "out", "cost", "usd",
                                "source", "status", "latency", "ms"]
    rows = [line.split() for line in lines[2:-1]]
    expected = RECORDS[3:]
    assert [row[1] for row in rows] == [r.timestamp for r in expected]
    assert rows[-1][2:] == ["globex", "openai/gpt-4o-mini-2024-07-18", "15", "5", "0.0006", "generation", "200",
                            "812"]
    assert lines[-1] == "3 call(s), 0.0015 USD"


def test_org_and_since_filter(ledger_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    since = (BASE + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--org", "acme", "--since", since, "--format",
                 "jsonl"]) == 0
    found = list(import_records("jsonl", io.StringIO(capsys.readouterr().out)))
    assert found == [r for r in RECORDS if r.org == "acme" and r.moment() >= BASE + timedelta(minutes=2)]
    assert len(found) == 2


def test_a_zone_less_since_is_utc(ledger_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--since", "2025-06-18T12:05", "--format", "json"]) == 0
    assert [r["request_id"] for r in orjson.loads(capsys.readouterr().out)] == [RECORDS[5].request_id]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_file_round_trips(ledger_dir: Path, tmp_path: Path, fmt: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / f"calls.{fmt}"
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--format", fmt, "--output", str(target)]) == 0
    assert capsys.readouterr().err.strip() == f"wrote 6 call(s) to {target}"
    with open(target, newline="") as handle:
        assert list(import_records(fmt, handle)) == RECORDS  # type: ignore[arg-type]
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(target.read_text())))
        assert "cost_source" in header and "prompt" in header


def test_json_is_a_list_of_full_records(ledger_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--format", "json"]) == 0
    assert [LedgerRecord.from_dict(item) for item in orjson.loads(capsys.readouterr().out)] == RECORDS


def test_empty_result_says_so(ledger_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--ledger-dir", str(ledger_dir), "--org", "nobody"]) == 0
    assert capsys.readouterr().out.strip() == "no calls match"


@pytest.fixture
def redis_stream(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = f"gw:ledger:test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    for record in RECORDS:
        client.xadd(key, {"r": record.to_json()})
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("GATEWAY_LEDGER_STREAM_KEY", key)
    try:
        yield key
    finally:
        client.delete(key)
        client.close()


def test_reads_the_redis_stream_named_in_the_environment(redis_stream: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--org", "globex", "--format", "jsonl"]) == 0
    found = list(import_records("jsonl", io.StringIO(capsys.readouterr().out)))
    assert found == [r for r in RECORDS if r.org == "globex"]


def test_without_redis_or_a_directory_it_says_what_to_set(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("GATEWAY_REDIS_URL", raising=False)
    assert main(["calls"]) == 2
    assert "REDIS_URL" in capsys.readouterr().err


def test_unreachable_redis_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2@127.0.0.1:1/{TEST_DB}")
    assert main(["calls"]) == 1
    err = capsys.readouterr().err
    assert "cannot read the ledger" in err and "hunter2" not in err


def test_missing_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--ledger-dir", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--since", "yesterday"], ["--limit", "0"], ["--format", "xml"]])
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["calls", *argv])
    assert exited.value.code == 2
