"""What every API gets the same way because one pipeline runs them all (the drift cases of issue 13).

Each test starts its own gateway on the resilience policy (quick retries, no breaker trips) in front of the
session's simulator, with an in-process ledger so the test can read the records from its own thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metering.record import LedgerRecord
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import serve

POLICY_FILE = Path(__file__).with_name("resilience_policy.yaml")
SOLO = "openai/gpt-4o-mini"  # a chat model with no fallback
EMBEDDING = "openai/text-embedding-3-small"
MAX_ATTEMPTS = 3  # retry.max_attempts of resilience_policy.yaml
ORG = "acme"


@dataclass
class Gateway:
    app: Starlette
    url: str
    http: httpx.Client
    token: str

    def ledger(self, expected: int, timeout_s: float = 2.0) -> list[LedgerRecord]:
        deadline = time.monotonic() + timeout_s
        while True:
            records = asyncio.run(self.app.state.ledger.read(org=ORG, since=None, limit=10))
            if len(records) >= expected or time.monotonic() > deadline:
                return list(records)
            time.sleep(0.02)


@contextmanager
def running_gateway(sim: Sim, policy_file: Path = POLICY_FILE) -> Iterator[Gateway]:
    app = create_app(gateway_settings(sim.base_url, policy_file=str(policy_file), redis_url=None))
    token = mint_token(JWT_SECRET, org=ORG, subject="pipeline", roles=["user"])
    with serve(app) as server, httpx.Client(
        base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        yield Gateway(app, f"{server.url}/v1", http, token)


@pytest.fixture
def gateway(sim: Sim) -> Iterator[Gateway]:
    with running_gateway(sim) as running:
        yield running


def test_a_failed_responses_call_records_its_retries(gateway: Gateway, sim: Sim) -> None:
    response = gateway.http.post("/responses", json={"model": SOLO, "input": "Fail me", "sim": {"error": 503}})
    assert response.status_code == 503, response.text
    assert len(sim.requests()) == MAX_ATTEMPTS
    [record] = gateway.ledger(expected=1)
    assert (record.status, record.retries, record.fallbacks) == (503, MAX_ATTEMPTS - 1, 0)


def test_a_failed_embeddings_call_records_its_retries(gateway: Gateway, sim: Sim) -> None:
    response = gateway.http.post("/embeddings", json={"model": EMBEDDING, "input": "Fail me", "sim": {"error": 503}})
    assert response.status_code == 503, response.text
    assert len(sim.requests()) == MAX_ATTEMPTS
    [record] = gateway.ledger(expected=1)
    assert (record.status, record.retries, record.fallbacks) == (503, MAX_ATTEMPTS - 1, 0)


def test_a_responses_stream_is_cut_by_the_whole_request_deadline(sim: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "total.yaml"
    policy.write_text(POLICY_FILE.read_text().replace("  idle_s: 0.5", "  idle_s: 0.5\n  total_s: 0.8"))
    # 40 tokens 100 ms apart: never idle for 0.5 s, but 4 s in all, far past the 0.8 s the request may take.
    body = {"model": SOLO, "input": "Talk slowly", "stream": True,
            "sim": {"completion_tokens": 40, "inter_token_ms": 100, "chunk_tokens": 1}}
    with running_gateway(sim, policy) as gateway:
        started = time.monotonic()
        with gateway.http.stream("POST", "/responses", json=body) as response:
            assert response.status_code == 200
            raw = response.read()
        elapsed = time.monotonic() - started
        events = [orjson.loads(line[len(b"data: "):]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
        assert events[-1]["type"] == "error", events[-1]
        assert events[-1]["code"] == "upstream_timeout"
        assert not any(event["type"] == "response.completed" for event in events)
        assert elapsed < 2.5, elapsed
        [record] = gateway.ledger(expected=1)
        assert record.error_type == "api_error" and record.cost_usd > 0  # what was streamed is billed


@pytest.mark.parametrize(("status", "kind"), [(401, "mid_stream"), (402, "mid_stream"), (401, "mid_stream_legacy")])
def test_an_in_stream_account_failure_is_the_gateways_not_the_clients(
    gateway: Gateway, sim: Sim, status: int, kind: str
) -> None:
    sdk = openai.OpenAI(base_url=gateway.url, api_key=gateway.token, max_retries=0)
    stream = sdk.chat.completions.create(
        model=SOLO, messages=[{"role": "user", "content": "Say something"}], stream=True,
        extra_body={"sim": {"error": kind, "stream_error_status": status, "error_after_tokens": 2}},
    )
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert not isinstance(caught.value, openai.AuthenticationError)
    assert caught.value.type == "api_error"
    assert caught.value.code == "upstream_account_refused"
    assert "User not found" not in str(caught.value.message)
    [record] = gateway.ledger(expected=1)
    assert record.error_type == "api_error"


@pytest.mark.parametrize("status", [401, 402])
def test_an_upstream_account_failure_is_a_502_the_client_should_not_retry(
    gateway: Gateway, sim: Sim, status: int
) -> None:
    for path, body in (("/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}),
                       ("/responses", {"input": "Hi"}), ("/embeddings", {"input": "Hi"})):
        model = EMBEDDING if path == "/embeddings" else SOLO
        response = gateway.http.post(path, json={"model": model, **body, "sim": {"error": status}})
        assert response.status_code == 502, (path, response.text)
        assert response.headers["x-should-retry"] == "false"
        assert response.json()["error"]["type"] == "api_error"
        assert response.json()["error"]["code"] == "upstream_account_refused"
    assert len(sim.requests()) == 3  # one attempt each: never retried, never failed over
    reason = "authentication" if status == 401 else "credits"
    metrics = httpx.get(gateway.url.removesuffix("/v1") + "/metrics").text  # what the operator alerts on
    assert f'gateway_upstream_account_refusals_total{{reason="{reason}"}} 3.0' in metrics


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/chat/completions", {"messages": [{"role": {}, "content": "hi"}]}, "messages[0].role"),
        ("/chat/completions", {"messages": [{"role": [], "content": "hi"}]}, "messages[0].role"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": True}, "max_tokens"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 0},
         "max_completion_tokens"),
        ("/responses", {"input": "hi", "max_output_tokens": -5}, "max_output_tokens"),
    ],
)
def test_any_json_shape_is_a_400_never_a_500(
    gateway: Gateway, sim: Sim, path: str, body: dict[str, object], param: str
) -> None:
    response = gateway.http.post(path, json={"model": SOLO, **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == param
    assert sim.requests() == []
