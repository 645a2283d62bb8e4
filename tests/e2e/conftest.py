"""The simulator and the gateway on real sockets, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.settings import Settings
from gateway.sim.app import create_sim_app
from tests.servers import ServerThread, serve

JWT_SECRET = "e2e-test-secret-that-is-long-enough-for-hs256"
UPSTREAM_KEY = "sk-or-v1-e2e-gateway-key"
POLICY_FILE = Path(__file__).with_name("policy.yaml")


@dataclass
class Sim:
    server: ServerThread
    control: httpx.Client

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/api/v1"

    def requests(self, limit: int = 50) -> list[dict]:
        return self.control.get("/_sim/requests", params={"limit": limit}).json()

    def stats(self) -> dict:
        return self.control.get("/_sim/stats").json()

    def fault(self, **spec: object) -> None:
        self.control.post("/_sim/faults", json=spec).raise_for_status()


@pytest.fixture(scope="session")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread) -> Iterator[Sim]:
    with httpx.Client(base_url=sim_server.url, timeout=10) as control:
        control.post("/_sim/reset").raise_for_status()
        yield Sim(sim_server, control)


def gateway_settings(sim_base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "openrouter_base_url": sim_base_url,
        "openrouter_api_key": UPSTREAM_KEY,
        "jwt_secret": JWT_SECRET,
        "policy_file": str(POLICY_FILE),
        "access_log": False,
        "max_body_bytes": 256 * 1024,
        # The in-process store unless a test asks for Redis: a REDIS_URL exported in the developer's shell (as the
        # suite's own Redis) must not switch these gateways to a Redis ledger whose client belongs to the server's
        # event loop, which the tests then read from theirs. CI has no REDIS_URL, so this is what it always ran.
        "redis_url": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def gateway_server(sim_server: ServerThread) -> Iterator[ServerThread]:
    with serve(create_app(gateway_settings(f"{sim_server.url}/api/v1"))) as server:
        yield server


@pytest.fixture
def gateway_url(gateway_server: ServerThread, sim: Sim) -> str:
    """The gateway's /v1 base URL; depends on `sim` so every test starts from a reset simulator."""
    return f"{gateway_server.url}/v1"


@pytest.fixture
def token() -> str:
    return mint_token(JWT_SECRET, org="acme", subject="alice", roles=["user"])


@pytest.fixture
def client(gateway_url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
        yield http
