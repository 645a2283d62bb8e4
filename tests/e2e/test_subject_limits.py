"""Per-user limits inside an org: one subject is held to its own rpm, the org's other users are not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve


@pytest.fixture
def limited(sim: Sim, tmp_path: Path) -> Iterator[ServerThread]:
    policy = tmp_path / "policy.yaml"
    policy.write_text("orgs:\n  acme: {rpm: 100, subject_rpm: 2}\n")
    with serve(create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))) as server:
        yield server


def test_each_subject_has_its_own_rpm(limited: ServerThread, sim: Sim) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}

    def send(subject: str) -> httpx.Response:
        token = mint_token(JWT_SECRET, org="acme", subject=subject)
        return httpx.post(f"{limited.url}/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {token}"}, timeout=10)

    alice = [send("alice") for _ in range(3)]
    assert [r.status_code for r in alice] == [200, 200, 429]
    refused = alice[2]
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "user" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-limit-requests"] == "2" and int(refused.headers["retry-after"]) >= 1
    assert send("bob").status_code == 200
    assert sum(sim.stats()["requests_by_model"].values()) == 3


def test_burst_and_per_second_limit_from_the_policy(sim: Sim, tmp_path: Path) -> None:
    """Bursts and per-second limits set in the policy, over real sockets (exact counts: tests/limits/test_bursts.py).

    The limits are chosen so that nothing refills while the concurrent requests arrive (0.5 s and 6 s per unit).
    """
    policy = tmp_path / "policy.yaml"
    policy.write_text("orgs:\n  acme: {rpm: 100, burst: 30, rps: 2}\n  beta: {rpm: 10, burst: 3}\n")
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    with serve(create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))) as server:

        async def spike(org: str) -> list[httpx.Response]:
            token = mint_token(JWT_SECRET, org=org, subject="alice")
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10) as http:
                return list(await asyncio.gather(
                    *(http.post(f"{server.url}/v1/chat/completions", json=body) for _ in range(6))
                ))

        per_second = asyncio.run(spike("acme"))
        burst = asyncio.run(spike("beta"))
    assert sorted(r.status_code for r in per_second) == [200] * 2 + [429] * 4
    assert all("requests per second" in r.json()["error"]["message"] for r in per_second if r.status_code == 429)
    assert sorted(r.status_code for r in burst) == [200] * 3 + [429] * 3
    refused = [r for r in burst if r.status_code == 429]
    assert all("requests per minute" in r.json()["error"]["message"] for r in refused)
    assert all(r.headers["x-ratelimit-limit-requests"] == "10" and r.headers["retry-after"] == "6" for r in refused)
    assert sum(sim.stats()["requests_by_model"].values()) == 5
