"""The exact-match response cache through the gateway: opt-in, org-scoped, free on a hit, coalesced on a miss."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

POLICY = """
tasks:
  critic:
    primary: openai/gpt-4o
    params: {temperature: 0}
    cache: {enabled: true, ttl_s: 60}
orgs:
  thrifty: {daily_budget_usd: 0.0005}
"""
DETERMINISTIC = {"model": "openai/gpt-4o-mini", "temperature": 0, "max_tokens": 40,
                 "messages": [{"role": "user", "content": "Repeat after me: cache"}]}
ON = {"x-gateway-cache": "on"}


@pytest.fixture
def cached_gateway(sim: Sim, tmp_path: Path) -> Iterator[tuple[ServerThread, Starlette]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    app = create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))
    with serve(app) as server:
        yield server, app


def _client(server: ServerThread, org: str = "acme") -> httpx.Client:
    token = mint_token(JWT_SECRET, org=org, subject="tester")
    return httpx.Client(base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)


def _upstream_calls(sim: Sim) -> int:
    return sum(sim.stats()["requests_by_model"].values())


async def _ledger(app: Starlette, org: str, count: int) -> list:
    deadline = time.monotonic() + 5
    while True:
        records = await app.state.ledger.read(org=org, since=None, limit=100)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.05)


async def test_hit_is_served_without_upstream_or_spend(
    cached_gateway: tuple[ServerThread, Starlette], sim: Sim
) -> None:
    server, app = cached_gateway
    with _client(server) as client:
        first = client.post("/chat/completions", json=DETERMINISTIC, headers=ON)
        second = client.post("/chat/completions", json=DETERMINISTIC, headers=ON)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-gateway-cache"] == "miss" and second.headers["x-gateway-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]
    assert float(first.headers["x-gateway-cost-usd"]) > 0 and second.headers["x-gateway-cost-usd"] == "0"
    assert _upstream_calls(sim) == 1
    records = await _ledger(app, "acme", 2)
    assert [(r.cache, r.cost_usd > 0) for r in records] == [("miss", True), ("hit", False)]
    assert sum(r.cost_usd for r in records) == pytest.approx(sim.stats()["billed_usd_total"], abs=1e-9)


def test_only_deterministic_requests_and_only_when_asked(
    cached_gateway: tuple[ServerThread, Starlette], sim: Sim
) -> None:
    server, _ = cached_gateway
    sampled = {**DETERMINISTIC, "temperature": 0.7}
    with _client(server) as client:
        for _ in range(2):
            assert "x-gateway-cache" not in client.post("/chat/completions", json=sampled, headers=ON).headers
            assert "x-gateway-cache" not in client.post("/chat/completions", json=DETERMINISTIC).headers
        seeded = {**sampled, "seed": 7}
        assert client.post("/chat/completions", json=seeded, headers=ON).headers["x-gateway-cache"] == "miss"
        assert client.post("/chat/completions", json=seeded, headers=ON).headers["x-gateway-cache"] == "hit"
    assert _upstream_calls(sim) == 5


def test_a_task_opts_in_and_the_request_can_opt_out(cached_gateway: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = cached_gateway
    body = {**DETERMINISTIC, "model": "critic"}
    body.pop("temperature")  # the task pins temperature 0
    with _client(server) as client:
        assert client.post("/chat/completions", json=body).headers["x-gateway-cache"] == "miss"
        assert client.post("/chat/completions", json=body).headers["x-gateway-cache"] == "hit"
        opted_out = client.post("/chat/completions", json=body, headers={"x-gateway-cache": "off"})
        assert "x-gateway-cache" not in opted_out.headers
    assert _upstream_calls(sim) == 2


def test_cache_is_scoped_per_org(cached_gateway: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = cached_gateway
    with _client(server, "acme") as acme, _client(server, "globex") as globex:
        assert acme.post("/chat/completions", json=DETERMINISTIC, headers=ON).headers["x-gateway-cache"] == "miss"
        assert globex.post("/chat/completions", json=DETERMINISTIC, headers=ON).headers["x-gateway-cache"] == "miss"
    assert _upstream_calls(sim) == 2


def test_streamed_replay_keeps_the_sse_shape(cached_gateway: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = cached_gateway
    token = mint_token(JWT_SECRET, org="acme")
    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0, default_headers=ON)
    messages = DETERMINISTIC["messages"]
    plain = sdk.chat.completions.create(model="openai/gpt-4o-mini", temperature=0, max_tokens=40, messages=messages)
    with sdk.chat.completions.stream(model="openai/gpt-4o-mini", temperature=0, max_tokens=40, messages=messages,
                                     stream_options={"include_usage": True}) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.usage is not None and final.usage.total_tokens == plain.usage.total_tokens
    assert _upstream_calls(sim) == 1
    with _client(server) as client:
        raw = client.post("/chat/completions", json={**DETERMINISTIC, "stream": True}, headers=ON)
    assert raw.headers["x-gateway-cache"] == "hit"
    data = [line[6:] for line in raw.text.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]" and data.count("[DONE]") == 1
    assert orjson.loads(data[0])["object"] == "chat.completion.chunk"


def test_a_completed_stream_fills_the_cache(cached_gateway: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = cached_gateway
    streamed = {**DETERMINISTIC, "stream": True, "stream_options": {"include_usage": True}}
    with _client(server) as client:
        miss = client.post("/chat/completions", json=streamed, headers=ON)
        assert miss.headers["x-gateway-cache"] == "miss" and "data: [DONE]" in miss.text
        hit = client.post("/chat/completions", json=DETERMINISTIC, headers=ON)
    assert hit.headers["x-gateway-cache"] == "hit"
    assert hit.json()["usage"]["total_tokens"] > 0
    assert _upstream_calls(sim) == 1


async def test_concurrent_identical_requests_make_one_upstream_call(
    cached_gateway: tuple[ServerThread, Starlette], sim: Sim
) -> None:
    server, _ = cached_gateway
    token = mint_token(JWT_SECRET, org="acme")
    slow = {**DETERMINISTIC, "sim": {"ttft_ms": 300}}
    async with httpx.AsyncClient(base_url=f"{server.url}/v1", timeout=30,
                                 headers={"authorization": f"Bearer {token}", **ON}) as client:
        responses = await asyncio.gather(*(client.post("/chat/completions", json=slow) for _ in range(20)))
    assert all(r.status_code == 200 for r in responses)
    marks = sorted(r.headers["x-gateway-cache"] for r in responses)
    assert marks == ["hit"] * 19 + ["miss"]
    assert len({r.json()["id"] for r in responses}) == 1
    assert _upstream_calls(sim) == 1


def test_a_hit_costs_nothing_against_the_budget(cached_gateway: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, _ = cached_gateway
    # Worst case of 820 gpt-4o-mini tokens (~$0.000494) fits the $0.0005 budget once, not after any spend.
    big = {**DETERMINISTIC, "max_tokens": 820}
    with _client(server, "thrifty") as client:
        assert client.post("/chat/completions", json=big, headers=ON).status_code == 200
        # The next uncached worst case no longer fits what is left of the budget ...
        other = {**big, "messages": [{"role": "user", "content": "Something else entirely"}]}
        refused = client.post("/chat/completions", json=other, headers=ON)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
        # ... but the cached answer is still served.
        hit = client.post("/chat/completions", json=big, headers=ON)
    assert hit.status_code == 200 and hit.headers["x-gateway-cache"] == "hit"
    assert _upstream_calls(sim) == 1
