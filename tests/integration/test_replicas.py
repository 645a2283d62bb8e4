"""Limits and budgets hold across 3 gateway processes sharing one Redis, under 200 concurrent requests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.auth.tokens import mint_token
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, gateway_env, replicas, sim_stats
from tests.servers import ServerThread, serve

MODEL = "openai/gpt-4o-mini"
CONCURRENCY = 200


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_server.url) as control:
        control.post("/_sim/reset").raise_for_status()
        yield control


class WebhookSink:
    def __init__(self) -> None:
        self.received: list[dict] = []

    async def receive(self, request: Request) -> Response:
        self.received.append(await request.json())
        return Response(status_code=204)


@pytest.fixture
def webhook() -> Iterator[tuple[WebhookSink, str]]:
    sink = WebhookSink()
    with serve(Starlette(routes=[Route("/hook", sink.receive, methods=["POST"])])) as server:
        yield sink, f"{server.url}/hook"


def _policy(tmp_path: Path, org_block: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(f"defaults:\n  max_completion_tokens: 64\norgs:\n  acme:\n{org_block}")
    return str(path)


async def _burst(urls: list[str], count: int, body: dict) -> list[httpx.Response]:
    token = mint_token(JWT_SECRET, org="acme", subject="loader")
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers={"authorization": f"Bearer {token}"}) as client:
        targets = itertools.islice(itertools.cycle(urls), count)
        return list(await asyncio.gather(*(client.post(f"{url}/v1/chat/completions", json=body) for url in targets)))


def _body(i: int = 0) -> dict:
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": f"Request number {i}"}]}


async def test_exactly_rpm_requests_pass_across_three_replicas(
    tmp_path: Path, sim_server: ServerThread, sim: httpx.Client, redis_url: str, redis_client: aioredis.Redis
) -> None:
    # rpm 10 refills one request every 6 s: far longer than the burst takes, so exactly 10 may pass.
    env = gateway_env(f"{sim_server.url}/api/v1", redis_url, _policy(tmp_path, "    rpm: 10\n"), str(tmp_path))
    with replicas(3, env) as gateways:
        responses = await _burst([g.url for g in gateways], CONCURRENCY, _body())
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == CONCURRENCY - 10
    rejected = next(r for r in responses if r.status_code == 429)
    assert rejected.json()["error"]["type"] == "rate_limit_error"
    assert int(rejected.headers["retry-after"]) >= 1
    assert rejected.headers["x-ratelimit-limit-requests"] == "10"
    assert rejected.headers["x-ratelimit-remaining-requests"] == "0"
    accepted = next(r for r in responses if r.status_code == 200)
    assert accepted.headers["x-ratelimit-limit-requests"] == "10"
    assert sum((await sim_stats(sim_server.url))["requests_by_model"].values()) == 10


async def test_budget_never_exceeded_and_alerts_fire_once(
    tmp_path: Path,
    sim_server: ServerThread,
    sim: httpx.Client,
    redis_url: str,
    redis_client: aioredis.Redis,
    webhook: tuple[WebhookSink, str],
) -> None:
    sink, hook_url = webhook
    budget = 0.0012
    env = gateway_env(
        f"{sim_server.url}/api/v1", redis_url, _policy(tmp_path, f"    daily_budget_usd: {budget}\n"), str(tmp_path),
        GATEWAY_BUDGET_ALERT_WEBHOOK_URL=hook_url,
    )
    with replicas(3, env) as gateways:
        urls = [g.url for g in gateways]
        responses: list[httpx.Response] = []
        # Settlements free what the reservations over-held: keep bursting until a burst admits nothing,
        # i.e. what is left of the budget cannot cover one more worst case.
        for round_number in range(20):
            burst = await _burst(urls, CONCURRENCY, _body(round_number))
            responses += burst
            if all(r.status_code == 429 for r in burst):
                break
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert ok and refused and len(ok) + len(refused) == len(responses)
    assert all(r.json()["error"]["type"] == "insufficient_quota" for r in refused)
    assert all(r.headers["x-should-retry"] == "false" and int(r.headers["retry-after"]) > 0 for r in refused)

    billed = (await sim_stats(sim_server.url))["billed_usd_total"]
    assert 0 < billed <= budget
    assert billed == pytest.approx(sum(float(r.headers["x-gateway-cost-usd"]) for r in ok), abs=1e-9)
    spend = await RedisLimiterBackend(redis_client).spend("acme")
    assert spend.daily_usd == pytest.approx(billed, abs=1e-9)
    assert spend.reserved_usd == pytest.approx(0, abs=1e-12)

    thresholds = [alert["threshold"] for alert in sink.received if alert["period"] == "daily"]
    assert sorted(thresholds) == sorted(set(thresholds))  # never twice
    assert {50, 80} <= set(thresholds)
    assert all(alert["org"] == "acme" and alert["budget_usd"] == pytest.approx(budget) for alert in sink.received)
