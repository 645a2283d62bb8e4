"""Retries, fallbacks, Retry-After, the retry budget and stalled streams, through the real gateway and simulator.

Each test gets its own gateway (fresh breaker, retry budget and ledger) on `resilience_policy.yaml`, or on a
policy of its own, in front of the session's simulator; faults are injected with the simulator's knobs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metering.record import LedgerRecord
from gateway.resilience.retry_budget import DEFAULT_MINIMUM
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

POLICY_FILE = Path(__file__).with_name("resilience_policy.yaml")
TASK = "writer"
PRIMARY = "openai/gpt-4o"
FALLBACK = "anthropic/claude-sonnet-4.5"
SOLO = "openai/gpt-4o-mini"  # a model with no fallback
MAX_ATTEMPTS = 3  # retry.max_attempts of resilience_policy.yaml
IDLE_S = 0.5  # timeouts.idle_s of resilience_policy.yaml
ORG = "acme"


@dataclass
class Gateway:
    server: ServerThread
    app: Starlette
    http: httpx.Client

    def chat(self, model: str, **extra: Any) -> httpx.Response:
        return self.http.post("/chat/completions", json=_body(model, **extra))

    def ledger(self, expected: int, timeout_s: float = 2.0) -> list[LedgerRecord]:
        """The org's ledger records once `expected` of them are written (settlement may finish after the reply)."""
        deadline = time.monotonic() + timeout_s
        while True:
            records = asyncio.run(self.app.state.ledger.read(org=ORG, since=None, limit=10))
            if len(records) >= expected or time.monotonic() > deadline:
                return list(records)
            time.sleep(0.02)


def _body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Say something"}], **extra}


@contextmanager
def running_gateway(sim: Sim, policy_file: Path) -> Iterator[Gateway]:
    app = create_app(gateway_settings(sim.base_url, policy_file=str(policy_file)))
    token = mint_token(JWT_SECRET, org=ORG, subject="resilience", roles=["user"])
    with serve(app) as server, httpx.Client(
        base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        yield Gateway(server, app, http)


@pytest.fixture
def gateway(sim: Sim) -> Iterator[Gateway]:
    with running_gateway(sim, POLICY_FILE) as running:
        yield running


@pytest.fixture
def scripted(sim: Sim) -> Iterator[Sim]:
    """The simulator, with its scripted faults cleared after the test whatever happened."""
    try:
        yield sim
    finally:
        sim.control.delete("/_sim/faults").raise_for_status()


def _attempted_models(sim: Sim) -> list[str]:
    """The model each upstream request asked for (the record's `model` is the one that answered, if any)."""
    return [record["body"]["model"] for record in sim.requests(limit=100)]


def _sse_data(raw: bytes) -> list[bytes]:
    blocks = [block for block in raw.replace(b"\r\n", b"\n").split(b"\n\n") if block]
    return [block[len(b"data: "):] for block in blocks if block.startswith(b"data: ")]


@pytest.mark.parametrize("status", [503, 429])
def test_json_falls_back_after_primary_retries(gateway: Gateway, scripted: Sim, status: int) -> None:
    scripted.fault(model=PRIMARY, error=status, count=None)
    response = gateway.chat(TASK)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-task"] == TASK
    assert response.headers["x-gateway-model-routed"] == PRIMARY
    assert response.headers["x-gateway-model-served"] == FALLBACK
    assert response.json()["model"] == FALLBACK
    assert response.json()["choices"][0]["message"]["content"]
    assert _attempted_models(scripted) == [PRIMARY] * MAX_ATTEMPTS + [FALLBACK]

    [record] = gateway.ledger(expected=1)
    assert record.task == TASK
    assert record.model_routed == PRIMARY
    assert record.model_served == FALLBACK
    assert record.retries == MAX_ATTEMPTS - 1
    assert record.fallbacks == 1
    assert record.status == 200


@pytest.mark.parametrize("status", [503, 429])
def test_stream_falls_back_after_primary_retries(gateway: Gateway, sim: Sim, status: int) -> None:
    # The per-request knob: only the primary fails, every time.
    body = _body(TASK, stream=True, sim={"error": status, "fail_models": [PRIMARY]})
    with gateway.http.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        headers = response.headers
        raw = response.read()
    assert headers["x-gateway-task"] == TASK
    assert headers["x-gateway-model-routed"] == PRIMARY
    assert headers["x-gateway-model-served"] == FALLBACK
    data = _sse_data(raw)
    assert data[-1] == b"[DONE]"
    chunks = [orjson.loads(item) for item in data[:-1]]
    assert all("error" not in chunk for chunk in chunks)
    assert {chunk["model"] for chunk in chunks} == {FALLBACK}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert _attempted_models(sim) == [PRIMARY] * MAX_ATTEMPTS + [FALLBACK]

    [record] = gateway.ledger(expected=1)
    assert (record.model_served, record.retries, record.fallbacks) == (FALLBACK, MAX_ATTEMPTS - 1, 1)


def test_retry_after_is_waited(gateway: Gateway, scripted: Sim) -> None:
    scripted.fault(model=SOLO, error=429, count=1, retry_after=1)
    started = time.monotonic()
    response = gateway.chat(SOLO)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-model-served"] == SOLO
    assert elapsed >= 0.9  # the backoff alone would be at most retry.max_delay_s (0.02 s)
    assert elapsed < 3
    assert _attempted_models(scripted) == [SOLO, SOLO]
    assert [r["status"] for r in scripted.requests()] == [429, 200]
    [record] = gateway.ledger(expected=1)
    assert (record.retries, record.fallbacks, record.model_served) == (1, 0, SOLO)


def test_client_error_is_sent_once(gateway: Gateway, sim: Sim) -> None:
    # A task with a fallback: a 400 must neither be retried nor handed to the fallback.
    response = gateway.chat(TASK, sim={"error": 400})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert _attempted_models(sim) == [PRIMARY]
    assert sim.stats()["requests_by_model"] == {PRIMARY: 1}


def test_retry_storm_is_capped_by_the_budget(sim: Sim, scripted: Sim, tmp_path: Path) -> None:
    ratio, requests, max_attempts = 0.1, 100, 5
    policy = tmp_path / "storm.yaml"
    policy.write_text(
        f"retry: {{max_attempts: {max_attempts}, base_delay_s: 0.001, max_delay_s: 0.002, budget_ratio: {ratio}}}\n"
        "circuit_breaker: {min_requests: 1000000}\n"
    )
    scripted.fault(model=SOLO, error=503, count=None)
    with running_gateway(sim, policy) as gateway:
        statuses = [gateway.chat(SOLO).status_code for _ in range(requests)]
    assert statuses == [503] * requests
    sent = sim.stats()["requests_by_model"][SOLO]
    # Without the budget: 500. With it: one attempt each, plus ratio x requests, plus the per-window minimum.
    cap = requests + int(ratio * requests) + DEFAULT_MINIMUM
    assert requests < sent <= cap, sent


def test_stalled_stream_ends_with_an_error_event(gateway: Gateway, sim: Sim) -> None:
    body = _body(SOLO, stream=True, sim={"error": "stall", "stall_ms": 3000, "error_after_tokens": 2})
    events: list[tuple[float, bytes]] = []
    with gateway.http.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic(), line[len("data: "):].encode()))
        ended = time.monotonic()
    payloads = [orjson.loads(data) for _, data in events if data != b"[DONE]"]
    assert b"[DONE]" not in [data for _, data in events]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in payloads[:-1] if c.get("choices"))
    assert content  # what came before the stall reached the client
    final = payloads[-1]
    assert set(final) >= {"error"}
    assert final["error"]["code"] == "upstream_timeout"
    assert all("error" not in chunk for chunk in payloads[:-1])
    stall_began = events[-2][0]  # the last chunk before the silence
    gap = events[-1][0] - stall_began
    assert IDLE_S * 0.8 <= gap <= IDLE_S + 1.0, gap
    assert ended - stall_began < 1.5

    # The gateway closed the upstream stream rather than waiting the stall out.
    deadline = time.monotonic() + 2.5
    while sim.stats()["streams_cancelled"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stats()["streams_cancelled"] == 1
    [record] = sim.requests()
    assert record["cancelled"] is True


def test_native_fallbacks_hand_the_list_to_openrouter(sim: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "native.yaml"
    policy.write_text(POLICY_FILE.read_text() + "upstream_fallbacks: native\n")
    with running_gateway(sim, policy) as native:
        response = native.chat(TASK, sim={"error": 503, "fail_models": [PRIMARY]})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == FALLBACK  # OpenRouter (the simulator) walked the list itself
        assert response.headers["x-gateway-model-served"] == FALLBACK
        [sent] = sim.requests()  # one upstream request, carrying the fallbacks as OpenRouter's `models` array
        assert sent["body"]["model"] == PRIMARY
        assert sent["body"]["models"] == [FALLBACK]
        [record] = native.ledger(expected=1)
        assert (record.model_routed, record.model_served, record.retries, record.fallbacks) == (PRIMARY, FALLBACK, 0, 0)


def test_the_total_deadline_bounds_a_json_call(sim: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "total.yaml"
    policy.write_text(POLICY_FILE.read_text().replace("  idle_s: 0.5", "  idle_s: 0.5\n  total_s: 0.5"))
    with running_gateway(sim, policy) as gateway:
        started = time.monotonic()
        response = gateway.chat(SOLO, sim={"ttft_ms": 3000})
        elapsed = time.monotonic() - started
        assert response.status_code == 504, response.text
        assert response.json()["error"]["type"] == "api_error"
        assert elapsed < 2.0  # the 3 s answer was not waited for
        [record] = gateway.ledger(expected=1)
        assert record.status == 504
