"""The raw SSE bytes the gateway sends: OpenAI's framing, produced from OpenRouter's."""

from __future__ import annotations

import socket
import time

import httpx
import orjson

from tests.e2e.conftest import Sim
from tests.openapi_schema import validate

CHAT = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Stream me a sentence"}], "stream": True}


def _events(raw: bytes) -> list[bytes]:
    return [block for block in raw.replace(b"\r\n", b"\n").split(b"\n\n") if block]


def _data(events: list[bytes]) -> list[bytes]:
    return [e[len(b"data: "):] for e in events if e.startswith(b"data: ")]


def test_stream_framing_without_usage(client: httpx.Client) -> None:
    body = {**CHAT, "sim": {"processing_comments": 3}}
    with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"]
        raw = response.read()
    events = _events(raw)
    assert events[:3] == [b": OPENROUTER PROCESSING"] * 3  # keep-alives stay comments
    assert not any(e == b"data:" or e == b"data: " for e in events)  # never empty data events
    data = _data(events)
    assert data[-1] == b"[DONE]" and data.count(b"[DONE]") == 1
    chunks = [orjson.loads(d) for d in data[:-1]]
    roles = [c["choices"][0]["delta"].get("role") for c in chunks if c["choices"]]
    assert roles[0] == "assistant" and all(role is None for role in roles[1:])
    assert not any("usage" in c for c in chunks)  # not asked for
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["provider"] for c in chunks)  # OpenRouter's extra fields kept
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)


def test_usage_chunk_only_when_asked_in_every_upstream_shape(client: httpx.Client) -> None:
    for shape in ("empty_choices", "empty_delta", "merged"):
        body = {**CHAT, "stream_options": {"include_usage": True}, "sim": {"usage_chunk": shape}}
        raw = client.post("/chat/completions", json=body).content
        data = _data(_events(raw))
        assert data[-1] == b"[DONE]"
        chunks = [orjson.loads(d) for d in data[:-1]]
        usage_chunks = [c for c in chunks if c.get("usage")]
        assert len(usage_chunks) == 1, shape
        assert usage_chunks[0] is chunks[-1] and usage_chunks[0]["choices"] == [], shape
        assert usage_chunks[0]["usage"]["cost"] > 0, shape
        content_chunks = chunks[:-1]
        assert all(c["choices"] for c in content_chunks), shape
        for chunk in chunks:
            validate("CreateChatCompletionStreamResponse", chunk)


def test_mid_stream_error_is_one_final_error_event(client: httpx.Client) -> None:
    for kind in ("mid_stream", "mid_stream_legacy"):
        body = {**CHAT, "sim": {"error": kind, "error_after_tokens": 2}}
        with client.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200  # the status was fixed by the first byte
            raw = response.read()
        data = _data(_events(raw))
        last = orjson.loads(data[-1])
        assert set(last) == {"error"}, kind
        assert set(last["error"]) == {"message", "type", "param", "code"}
        assert b"[DONE]" not in data
        assert b"user_id" not in raw


def test_abrupt_upstream_disconnect_ends_with_error_event(client: httpx.Client) -> None:
    raw = client.post("/chat/completions", json={**CHAT, "sim": {"error": "disconnect"}}).content
    data = _data(_events(raw))
    assert b"[DONE]" not in data
    assert orjson.loads(data[-1])["error"]["code"] == "upstream_stream_truncated"


def test_error_before_first_byte_is_a_json_error(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json={**CHAT, "sim": {"error": 503, "retry_after": 2}})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "api_error"


def test_client_disconnect_cancels_upstream(gateway_url: str, token: str, sim: Sim) -> None:
    body = orjson.dumps({**CHAT, "sim": {"inter_token_ms": 50, "completion_tokens": 400}})
    host, port = gateway_url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        received = b""
        while received.count(b"data: ") < 3:
            received += sock.recv(65536)
    # 400 tokens at 50 ms would take 20 s; the upstream must see the cancellation well before that.
    deadline = time.monotonic() + 5
    while sim.stats()["streams_cancelled"] < 1:
        assert time.monotonic() < deadline, "upstream stream was not cancelled after the client left"
        time.sleep(0.05)
    record = [r for r in sim.requests() if r["path"].endswith("/chat/completions")][-1]
    assert record["cancelled"] is True
