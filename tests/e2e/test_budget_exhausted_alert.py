"""The issue's case over real sockets: a tiny daily budget refuses the next call before 100 % is spent, and the
100 % webhook still arrives, exactly once, however many calls are refused after it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import serve


class Hook:
    def __init__(self) -> None:
        self.alerts: list[dict] = []

    async def receive(self, request: Request) -> Response:
        self.alerts.append(await request.json())
        return Response(status_code=204)


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    sink = Hook()
    with serve(Starlette(routes=[Route("/hook", sink.receive, methods=["POST"])])) as server:
        yield sink, f"{server.url}/hook"


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_the_100_percent_alert_comes_from_the_refusal(
    sim: Sim, tmp_path: Path, hook: tuple[Hook, str], redis_url: str, store: str
) -> None:
    sink, url = hook
    org = f"tiny-{os.urandom(4).hex()}"  # a fresh org: the shared Redis keeps other tests' spend
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"orgs:\n  {org}: {{daily_budget_usd: 0.001}}\n")
    settings = gateway_settings(sim.base_url, policy_file=str(policy), budget_alert_webhook_url=url,
                                redis_url=redis_url if store == "redis" else None)
    token = mint_token(JWT_SECRET, org=org, subject="alice")
    body = {"model": "openai/gpt-4o", "max_tokens": 30, "messages": [{"role": "user", "content": "Hi"}]}
    with serve(create_app(settings)) as server, httpx.Client(
        base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        statuses = []
        for _ in range(40):
            statuses.append(client.post("/chat/completions", json=body).status_code)
            if statuses[-1] == 429:
                break
        assert statuses[-1] == 429 and statuses.count(200) >= 1
        for _ in range(3):  # more refusals: no more alerts
            assert client.post("/chat/completions", json=body).json()["error"]["code"] == "budget_exceeded"
        deadline = time.monotonic() + 5
        while not any(a["threshold"] == 100 for a in sink.alerts) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    hundred = [a for a in sink.alerts if a["threshold"] == 100]
    assert len(hundred) == 1
    assert hundred[0]["org"] == org and hundred[0]["period"] == "daily" and hundred[0]["budget_usd"] == 0.001
    assert hundred[0]["spent_usd"] < 0.001  # refused before the budget was spent: the reason the alert was lost
