"""A real gateway (Redis, the simulator, a policy with budgets) for the console's API and browser tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, gateway_settings
from tests.servers import ServerThread, serve

POLICY = """
aliases:
  fast: openai/gpt-4o-mini
retry:
  max_attempts: 1
circuit_breaker:
  min_requests: 1000000
orgs:
  acme:
    daily_budget_usd: 5
    monthly_budget_usd: 100
    rpm: 1000
"""


def admin_token(org: str = "acme") -> str:
    return mint_token(JWT_SECRET, org=org, subject="ops@" + org, roles=["admin"])


def user_token(org: str = "acme") -> str:
    return mint_token(JWT_SECRET, org=org, subject="alice", roles=["user"])


@dataclass
class Gateway:
    server: ServerThread
    sim_url: str

    def fail_next_call(self, status: int) -> None:
        """The simulator answers the next call with this upstream error."""
        httpx.post(f"{self.sim_url}/_sim/faults", json={"error": status, "count": 1}).raise_for_status()

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=token or user_token(), max_retries=0, timeout=30)

    def chat(self, tags: str | None = None, model: str = "openai/gpt-4o-mini", token: str | None = None) -> float:
        """One real call through the gateway; returns what it cost (the simulator's billed `usage.cost`).

        Returns once the call's ledger record is readable (records are written just after the answer), so a test
        reads what it made; a call the gateway refused before admitting it (401, 403, 429) leaves no record to wait for.
        """
        headers = {"x-gateway-tags": tags} if tags else None
        try:
            raw = self.client(token).chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "Say hello"}], max_tokens=16,
                extra_headers=headers,
            )
        except openai.APIStatusError as exc:
            if exc.status_code not in (401, 403, 429):
                self.wait_for_record(exc.response.headers["x-request-id"])
            raise
        self.wait_for_record(raw.headers["x-request-id"])
        answer = raw.parse()
        assert answer.usage is not None
        return float(answer.usage.model_extra["cost"])  # type: ignore[index]

    def wait_for_record(self, request_id: str, org: str = "acme") -> None:
        headers = {"authorization": f"Bearer {admin_token(org)}"}
        deadline = time.monotonic() + 10
        while httpx.get(f"{self.url}/admin/orgs/{org}/calls/{request_id}", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, f"call {request_id} never reached the ledger"
            time.sleep(0.02)


@contextmanager
def console_gateway(sim_url: str, redis_url: str | None, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway on the simulator at `sim_url` (reset first) with the test policy and Redis (None: in-process)."""
    httpx.post(f"{sim_url}/_sim/reset").raise_for_status()
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    # No clock leeway, so a token minted to expire in seconds does (the sign-in screen test).
    settings = gateway_settings(f"{sim_url}/api/v1", policy_file=str(policy), redis_url=redis_url, jwt_leeway_s=0)
    with serve(create_app(settings)) as server:
        yield Gateway(server, sim_url)
