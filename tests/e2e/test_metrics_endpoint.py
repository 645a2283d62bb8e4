"""/metrics reflects the traffic: requests, tokens, cost, in-flight calls back to zero, budget utilisation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve


@pytest.fixture
def metered_gateway(sim: Sim, tmp_path: Path) -> Iterator[ServerThread]:
    policy = tmp_path / "policy.yaml"
    policy.write_text("orgs:\n  acme: {daily_budget_usd: 0.01}\n")
    settings = gateway_settings(sim.base_url, policy_file=str(policy), spool_replay_interval_s=0.1, redis_url=None)
    with serve(create_app(settings)) as server:
        yield server


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            total += float(match.group(2))
    return total


def test_metrics_follow_the_traffic(metered_gateway: ServerThread, sim: Sim) -> None:
    token = mint_token(JWT_SECRET, org="acme", subject="ops")
    headers = {"authorization": f"Bearer {token}"}
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
    with httpx.Client(base_url=metered_gateway.url, headers=headers, timeout=10) as client:
        costs = [float(client.post("/v1/chat/completions", json=body).headers["x-gateway-cost-usd"]) for _ in range(3)]
        assert client.post("/v1/chat/completions", json={**body, "sim": {"error": 400}}).status_code == 400
        deadline = time.monotonic() + 5
        while True:
            text = client.get("/metrics").text
            if _sample(text, "gateway_budget_utilisation_ratio", org="acme", period="daily") > 0:
                break
            assert time.monotonic() < deadline, "budget utilisation never published"
            time.sleep(0.1)
    assert _sample(text, "gateway_requests_total", model="openai/gpt-4o-mini", status="200") == 3
    assert _sample(text, "gateway_requests_total", status="400") == 1
    assert _sample(text, "gateway_cost_usd_total", org="acme") == pytest.approx(sum(costs), abs=1e-9)
    assert _sample(text, "gateway_tokens_total", kind="prompt") > 0
    assert re.search(r"^gateway_in_flight_requests 0\.0$", text, re.M)
    utilisation = _sample(text, "gateway_budget_utilisation_ratio", org="acme", period="daily")
    assert utilisation == pytest.approx(sum(costs) / 0.01, rel=1e-6)
    assert _sample(text, "gateway_overhead_seconds_count") >= 4
