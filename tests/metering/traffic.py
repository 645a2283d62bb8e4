"""Client traffic for the metering tests: mixed chat calls through a gateway, including streams the client cuts."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import orjson

from gateway.metering import LedgerRecord

CANCELLABLE_MODEL = "openai/gpt-4o"  # OpenAI stops billing when the stream is cancelled
UNCANCELLABLE_MODEL = "google/gemini-2.5-flash"  # Google AI Studio bills the whole answer anyway
CHEAP_MODEL = "openai/gpt-4o-mini"


def chat(prompt: str, model: str = CHEAP_MODEL, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def cut_stream(gateway_url: str, token: str, body: dict[str, object], events: int = 3) -> bytes:
    """Open a stream over a raw socket, read `events` data events, then hang up (a client that went away)."""
    parts = urlsplit(gateway_url)
    payload = orjson.dumps({**body, "stream": True})
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        received = b""
        while received.count(b"data: ") < events:
            chunk = sock.recv(65536)
            assert chunk, f"the gateway closed the stream early: {received[:500]!r}"
            received += chunk
    return received


def slow_answer(tokens: int = 200) -> dict[str, object]:
    """Simulator knobs for a stream long enough to be cut: `tokens` tokens at 20 ms each."""
    return {"sim": {"inter_token_ms": 20, "completion_tokens": tokens}}


def send_mixed(client: httpx.Client, prompt: str) -> int:
    """JSON, n=2, streams with and without include_usage, streamed n=2, an upstream 400 and a 502.

    Returns how many calls were admitted (each one gets exactly one ledger record).
    """
    calls = [
        chat(prompt),
        chat(prompt, n=2),
        chat(prompt, stream=True),
        chat(prompt, stream=True, stream_options={"include_usage": True}),
        chat(prompt, stream=True, n=2, stream_options={"include_usage": True}),
        chat(prompt, model=CANCELLABLE_MODEL, max_tokens=20),
        chat(prompt, sim={"error": 400}),
        chat(prompt, sim={"error": 502}),
    ]
    for body in calls:
        response = client.post("/chat/completions", json=body)
        assert response.status_code in (200, 400, 502), response.text
    return len(calls)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def total_cost(records: list[LedgerRecord], org: str | None = None) -> float:
    return sum(r.cost_usd for r in records if org is None or r.org == org)
