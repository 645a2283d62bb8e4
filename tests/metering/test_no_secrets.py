from __future__ import annotations

import io
from pathlib import Path

import orjson
from starlette.requests import Request

from gateway.metering import JsonlLedger, LedgerRecord, export_records
from gateway.settings import Settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsIm9yZ19pZCI6ImFjbWUifQ.c2lnbmF0dXJlLXNlY3JldA"
OPENROUTER_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"


def _request(body: bytes) -> Request:
    headers = [(b"authorization", f"Bearer {JWT}".encode()), (b"x-gateway-tags", b"run=42"),
               (b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers,
             "query_string": b""}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def test_records_carry_neither_the_callers_token_nor_the_upstream_key(tmp_path: Path) -> None:
    settings = Settings(openrouter_api_key=OPENROUTER_KEY)
    assert settings.upstream_key() == OPENROUTER_KEY
    request = _request(orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                     "metadata": {"team": "search"}}))
    body = orjson.loads(await request.body())
    record = LedgerRecord.start(request_id="r1", org="acme", subject="alice", task=None, model_requested="m",
                                model_routed="m", body=body, tags_header=request.headers.get("x-gateway-tags"),
                                capture_prompt=True)
    record.add_usage({"prompt_tokens": 1, "completion_tokens": 1, "cost": 0.0001})
    assert record.tags == {"team": "search", "run": "42"}  # the request's headers were really read

    ledger = JsonlLedger(tmp_path)
    await ledger.append(record)
    await ledger.aclose()
    written = [record.to_json(), ledger.path.read_bytes()]
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        export_records([record], fmt, out)  # type: ignore[arg-type]
        written.append(out.getvalue().encode())
    for blob in written:
        for secret in (JWT, OPENROUTER_KEY, "Bearer", "sk-or-", "authorization"):
            assert secret.encode() not in blob
