"""Ways round the allow-list or the budget that must stay closed: the `models` array, the Responses API's cost
cap, and a stream the client drops before its first token."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

POLICY = """
aliases:
  mini: openai/gpt-4o-mini
tasks:
  capped:
    primary: openai/gpt-4o
    max_cost_usd: 0.0005
orgs:
  narrow:
    allow: ["openai/gpt-4o-mini", "task:*"]
"""


@pytest.fixture
def guarded(sim: Sim, tmp_path: Path) -> Iterator[tuple[ServerThread, Starlette]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    app = create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))
    with serve(app) as server:
        yield server, app


def _headers(org: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(JWT_SECRET, org=org, subject='guard')}"}


def test_models_array_obeys_the_allow_list(guarded: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = guarded
    body = {"model": "openai/gpt-4o-mini", "models": ["openai/gpt-4o"], "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=f"{server.url}/v1", headers=_headers("narrow"), timeout=10) as client:
        refused = client.post("/chat/completions", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
        assert client.post("/responses", json={"model": "openai/gpt-4o-mini", "models": ["openai/gpt-4o"],
                                               "input": "x"}).status_code == 403
        allowed = client.post("/chat/completions", json={**body, "models": ["mini"]})
    with httpx.Client(base_url=f"{server.url}/v1", headers=_headers("acme"), timeout=10) as client:
        unknown = client.post("/chat/completions", json={**body, "models": ["nobody/none"]})
        assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "models"
        malformed = client.post("/chat/completions", json={**body, "models": "openai/gpt-4o"})
        assert malformed.status_code == 400 and malformed.json()["error"]["param"] == "models"
    assert allowed.status_code == 200
    assert sim.requests()[-1]["body"]["models"] == ["openai/gpt-4o-mini"]  # aliases resolved like `model`
    assert sum(sim.stats()["requests_by_model"].values()) == 1


def test_responses_api_honours_the_tasks_cost_cap(guarded: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = guarded
    with httpx.Client(base_url=f"{server.url}/v1", headers=_headers("acme"), timeout=10) as client:
        chat = client.post("/chat/completions", json={"model": "capped", "max_tokens": 5000,
                                                      "messages": [{"role": "user", "content": "Hi"}]})
        responses = client.post("/responses", json={"model": "capped", "max_output_tokens": 5000, "input": "Hi"})
    assert chat.status_code == responses.status_code == 200
    sent = [r["body"] for r in sim.requests() if r["path"].endswith(("/chat/completions", "/responses"))]
    chat_limit, responses_limit = sent[0]["max_tokens"], sent[1]["max_output_tokens"]
    assert 0 < chat_limit < 5000 and 0 < responses_limit < 5000
    assert float(responses.headers["x-gateway-cost-usd"]) <= 0.0005


async def test_stream_dropped_before_its_first_token_is_still_billed(
    guarded: tuple[ServerThread, Starlette], sim: Sim
) -> None:
    server, app = guarded
    prompt = "long context " * 4000
    body = orjson.dumps({"model": "openai/gpt-4o", "stream": True, "sim": {"ttft_ms": 1500},
                         "messages": [{"role": "user", "content": prompt}]})
    token = mint_token(JWT_SECRET, org="acme", subject="guard")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        sock.recv(65536)  # the response headers: the stream is open, no token has come yet
    deadline = time.monotonic() + 10
    while True:
        records = await app.state.ledger.read(org="acme", since=None, limit=10)
        if records or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    billed = sim.stats()["billed_usd_total"]
    assert billed > 0  # OpenRouter bills the prompt of a cancelled stream
    assert len(records) == 1 and records[0].cancelled
    assert records[0].cost_usd == pytest.approx(billed, abs=1e-9)
    assert records[0].cost_source == "generation"
