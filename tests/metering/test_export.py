from __future__ import annotations

import csv
import io

import pytest

from gateway.metering import LedgerRecord, export_records, import_records
from gateway.metering.record import FIELD_NAMES
from tests.metering.conftest import make_record


def _varied_records() -> list[LedgerRecord]:
    full = LedgerRecord.start(
        request_id="r-full", org="acme", subject="alice", task=None, model_requested="gpt",
        model_routed="openai/gpt-4o", tags_header="run=7,note=a \"quoted\", value",
        body={"messages": [{"role": "user", "content": "line one\nline, two"}], "temperature": 0.5, "top_p": 1,
              "max_tokens": 100, "seed": 3, "n": 2, "stop": ["\n\n", ","], "stream": True},
        capture_prompt=True,
    )
    full.add_usage({"prompt_tokens": 10, "completion_tokens": 4, "cost": 1.5e-05,
                    "completion_tokens_details": {"reasoning_tokens": 2},
                    "prompt_tokens_details": {"cached_tokens": 8}})
    full.model_served, full.provider, full.generation_id = "openai/gpt-4o-2024-08-06", "OpenAI", "gen-1"
    full.latency_ms, full.ttft_ms, full.retries, full.fallbacks, full.status = 812.25, 120.5, 1, 1, 200
    full.cancelled, full.cache = True, "miss"
    failed = make_record(status=502, error_type="api_error")
    return [full, failed]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip(fmt: str) -> None:
    records = _varied_records()
    out = io.StringIO()
    assert export_records(records, fmt, out) == 2  # type: ignore[arg-type]
    assert list(import_records(fmt, io.StringIO(out.getvalue()))) == records  # type: ignore[arg-type]


def test_csv_has_a_header_of_every_field_and_json_columns() -> None:
    out = io.StringIO()
    export_records(_varied_records(), "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == FIELD_NAMES
    assert rows[0]["stop"] == '["\\n\\n",","]'
    assert rows[0]["stream"] == "true"
    assert rows[1]["model_served"] == ""
    assert rows[1]["status"] == "502"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_records([], "xml", io.StringIO())  # type: ignore[arg-type]
