"""Records out to CSV or JSONL for researchers and finance, and back in again."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Literal, TextIO

import orjson

from gateway.metering.record import FIELD_NAMES, LedgerRecord

ExportFormat = Literal["csv", "jsonl"]

# CSV cells are text; these say how to turn each non-text column back into its type on import.
_JSON_COLUMNS = frozenset({"stop", "tags", "choices"})
_INT_COLUMNS = frozenset({"max_tokens", "seed", "n", "prompt_tokens", "completion_tokens", "reasoning_tokens",
                          "cached_tokens", "retries", "fallbacks", "status"})
_FLOAT_COLUMNS = frozenset({"temperature", "top_p", "cost_usd", "latency_ms", "ttft_ms"})
_BOOL_COLUMNS = frozenset({"stream", "cancelled", "prompt_truncated"})
# Empty text in these is "", not None: they are never absent from a record.
_REQUIRED_TEXT = frozenset({"request_id", "timestamp", "org", "subject", "model_requested", "model_routed",
                            "endpoint", "prompt_sha256", "messages_sha256"})


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in _JSON_COLUMNS:
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value(name: str, cell: str) -> Any:
    if cell == "":
        if name == "tags":
            return {}
        return "" if name in _REQUIRED_TEXT else None
    if name in _JSON_COLUMNS:
        return orjson.loads(cell)
    if name in _INT_COLUMNS:
        return int(cell)
    if name in _FLOAT_COLUMNS:
        return float(cell)
    if name in _BOOL_COLUMNS:
        return cell == "true"
    return cell


def export_records(records: Iterable[LedgerRecord], fmt: ExportFormat, out: TextIO) -> int:
    """Write records to `out`; returns how many. CSV has a header row of every field; JSON columns as JSON."""
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(record.to_json().decode())
            out.write("\n")
            count += 1
        return count
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}; use 'csv' or 'jsonl'")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELD_NAMES)
    for record in records:
        writer.writerow([_cell(name, getattr(record, name)) for name in FIELD_NAMES])
        count += 1
    return count


def import_records(fmt: ExportFormat, source: TextIO) -> Iterator[LedgerRecord]:
    """Read back what `export_records` wrote."""
    if fmt == "jsonl":
        for line in source:
            if line.strip():
                yield LedgerRecord.from_json(line)
        return
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}; use 'csv' or 'jsonl'")
    for row in csv.DictReader(source):
        yield LedgerRecord.from_dict({name: _value(name, cell) for name, cell in row.items() if name in FIELD_NAMES})


async def export_chunks(
    records: AsyncIterable[LedgerRecord], fmt: ExportFormat, batch: int = 500
) -> AsyncIterator[bytes]:
    """The same text as `export_records`, as UTF-8 chunks of `batch` records: a large export streams out of an
    HTTP response without the whole set being held in memory."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}; use 'csv' or 'jsonl'")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(FIELD_NAMES)
    pending = 0
    async for record in records:
        if fmt == "jsonl":
            out.write(record.to_json().decode())
            out.write("\n")
        else:
            writer.writerow([_cell(name, getattr(record, name)) for name in FIELD_NAMES])
        pending += 1
        if pending == batch:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            pending = 0
    yield out.getvalue().encode()
