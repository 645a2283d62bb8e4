"""The access line takes a short way past structlog; it must keep the fields, the shape and the redaction."""

from __future__ import annotations

import orjson
import pytest
import structlog

from gateway.log import write_access_line


def test_access_line_is_one_redacted_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    structlog.contextvars.bind_contextvars(org="acme")
    try:
        write_access_line({"request_id": "r1", "status": 200, "duration_ms": 1.5,
                           "error": "upstream said Bearer sk-or-v1-abcdef", "authorization": "Bearer x"})
    finally:
        structlog.contextvars.clear_contextvars()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    line = orjson.loads(lines[0])
    assert line["event"] == "request" and line["level"] == "info" and line["org"] == "acme"
    assert line["request_id"] == "r1" and line["status"] == 200 and line["duration_ms"] == 1.5
    assert line["timestamp"].endswith("Z")
    assert "sk-or-" not in lines[0] and line["authorization"] == "[redacted]"
