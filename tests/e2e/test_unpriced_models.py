"""Model ids the catalogue does not price (OpenRouter's routers, `~` aliases) must never slip past a budget.

Before, `openrouter/auto` reserved nothing: 20 concurrent calls under a $0.005 daily budget were all admitted and
billed many times the budget. Now an unpriced id is reserved at the catalogue's dearest price (or refused, when
the org's policy says so), so the simulator's own bill stays within the budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

BUDGET_USD = 0.005
POLICY = f"""
retry:
  max_attempts: 1
orgs:
  tight:
    daily_budget_usd: {BUDGET_USD}
  strict:
    unpriced_models: refuse
"""
# `tools` makes the simulator's auto router pick anthropic/claude-sonnet-4.5 ($15 per million completion tokens):
# about $0.0015 a call, so 20 calls cost six times the budget.
AUTO_CALL = {
    "model": "openrouter/auto", "max_tokens": 100, "sim": {"completion_tokens": 100},
    "messages": [{"role": "user", "content": "Plan the next step."}],
    "tools": [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}],
}


@pytest.fixture
async def gateway(
    sim: Sim, redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[ServerThread]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    app = create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=redis_url,
                                      spool_dir=str(tmp_path / "spool")))
    with serve(app) as server:
        yield server


def _client(server: ServerThread, org: str) -> httpx.AsyncClient:
    token = mint_token(JWT_SECRET, org=org, subject="prober")
    return httpx.AsyncClient(base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)


async def test_a_burst_on_openrouter_auto_stays_within_the_budget(gateway: ServerThread, sim: Sim) -> None:
    async with _client(gateway, "tight") as client:
        answers = await asyncio.gather(*(client.post("/chat/completions", json=AUTO_CALL) for _ in range(20)))
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(served) + len(refused) == 20, [a.text for a in answers if a.status_code not in (200, 429)]
    assert served and refused
    assert all(a.json()["error"]["code"] == "budget_exceeded" for a in refused)
    assert {a.json()["model"] for a in served} == {"anthropic/claude-sonnet-4.5"}
    billed = sim.stats()["billed_usd_total"]
    assert 0 < billed <= BUDGET_USD
    assert sum(float(a.headers["x-gateway-cost-usd"]) for a in served) == pytest.approx(billed, abs=1e-9)


async def test_an_unpriced_id_is_refused_when_the_org_says_so(gateway: ServerThread, sim: Sim) -> None:
    async with _client(gateway, "strict") as client:
        refused = await client.post("/chat/completions", json=AUTO_CALL)
        alias = await client.post("/chat/completions", json={**AUTO_CALL, "model": "~anthropic/claude-sonnet-latest"})
        priced = await client.post("/chat/completions", json={**AUTO_CALL, "model": "openai/gpt-4o-mini"})
    for answer in (refused, alias):
        assert answer.status_code == 403
        assert answer.json()["error"]["type"] == "permission_error"
        assert answer.json()["error"]["code"] == "unpriced_model"
    assert priced.status_code == 200
    assert sim.stats()["requests_by_model"] == {"openai/gpt-4o-mini": 1}


async def test_max_tokens_above_the_models_maximum_is_clamped_before_sending(gateway: ServerThread, sim: Sim) -> None:
    async with _client(gateway, "acme") as client:
        answer = await client.post("/chat/completions", json={
            "model": "openai/gpt-4o-mini", "max_tokens": 10**9, "messages": [{"role": "user", "content": "Hi"}]})
    assert answer.status_code == 200
    sent = [r["body"] for r in sim.requests() if r["path"].endswith("/chat/completions")]
    assert sent[-1]["max_tokens"] == 16384  # gpt-4o-mini's top provider maximum in the catalogue
