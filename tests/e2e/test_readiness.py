"""/readyz on a real gateway and real sockets: with Redis unreachable, fail-closed is not ready and refuses chat
with a 503 before anything goes upstream, while fail-open stays ready, answers on local limits and reports
`gateway_store_degraded` 1; with a live Redis the store check is ok."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import serve

CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def closed_port() -> int:
    """A local port nothing listens on: bound, read, released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


def auth_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(JWT_SECRET, org='acme', subject='alice')}"}


def chat_requests(sim: Sim) -> list[dict[str, Any]]:
    return [r for r in sim.requests(limit=200) if r["path"].endswith("/chat/completions")]


def degraded_gauge(metrics_text: str) -> float | None:
    match = re.search(r"^gateway_store_degraded (\S+)$", metrics_text, re.M)
    return float(match.group(1)) if match else None


def wait_for_degraded_gauge(client: httpx.Client, timeout_s: float = 5.0) -> None:
    """Housekeeping publishes the gauge every `spool_replay_interval_s`; poll /metrics until it reads 1."""
    deadline = time.monotonic() + timeout_s
    while (gauge := degraded_gauge(client.get("/metrics").text)) != 1:
        assert time.monotonic() < deadline, f"gateway_store_degraded stayed {gauge}"
        time.sleep(0.1)


def wait_for_spooled_settlements(spool_dir: Path, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """Settlements in the spool, new or claimed by a replay that failed (settlement happens after the response)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found: list[dict[str, Any]] = []
        for path in sorted(spool_dir.glob("settlements-*.jsonl*")):
            with contextlib.suppress(FileNotFoundError):  # renamed by a replay between glob and read
                found += [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        if found:
            return found
        assert time.monotonic() < deadline, f"nothing spooled in {spool_dir}"
        time.sleep(0.1)


StartGateway = Callable[..., httpx.Client]


@pytest.fixture
def start_gateway(sim: Sim, tmp_path: Path) -> Iterator[StartGateway]:
    """Starts a gateway on the simulator with the given settings and returns a client for it; both end with the test."""
    with contextlib.ExitStack() as stack:

        def start(**overrides: object) -> httpx.Client:
            settings = gateway_settings(sim.base_url, spool_dir=str(tmp_path / "spool"), **overrides)
            server = stack.enter_context(serve(create_app(settings)))
            return stack.enter_context(httpx.Client(base_url=server.url, timeout=15))

        yield start


def readiness(client: httpx.Client) -> tuple[int, dict[str, str]]:
    """`/readyz` as (status, the fields the tests look at)."""
    ready = client.get("/readyz")
    body = ready.json()
    checks = body["checks"]
    return ready.status_code, {"status": body["status"], "store": checks["store"],
                               "mode": checks.get("store_fail_mode"), "upstream": checks["upstream"]}


def test_redis_down_fail_closed_is_not_ready_and_refuses_chat(start_gateway: StartGateway, sim: Sim) -> None:
    client = start_gateway(redis_url=dead_redis_url(), spool_replay_interval_s=0.2)
    # Only the store keeps it out of rotation.
    assert readiness(client) == (503, {"status": "not_ready", "store": "down", "mode": "closed", "upstream": "ok"})
    assert client.get("/healthz").status_code == 200  # liveness does not depend on Redis

    chat = client.post("/v1/chat/completions", json=CHAT, headers=auth_headers())
    assert chat.status_code == 503
    assert chat.headers["content-type"].startswith("application/json")
    error = chat.json()["error"]
    assert error["type"] == "api_error"
    assert error["code"] == "service_unavailable"
    assert isinstance(error["message"], str) and error["message"]
    assert chat_requests(sim) == []
    wait_for_degraded_gauge(client)  # the README: either fail mode shows the outage on the gauge


def test_redis_down_fail_open_stays_ready_and_serves_on_local_limits(
    start_gateway: StartGateway, sim: Sim, tmp_path: Path
) -> None:
    client = start_gateway(redis_url=dead_redis_url(), store_fail_mode="open", spool_replay_interval_s=0.2)
    assert readiness(client) == (200, {"status": "ready", "store": "down", "mode": "open", "upstream": "ok"})

    chat = client.post("/v1/chat/completions", json=CHAT, headers=auth_headers())
    assert chat.status_code == 200, chat.text
    assert chat.json()["object"] == "chat.completion"
    assert chat.json()["choices"][0]["message"]["role"] == "assistant"
    [forwarded] = chat_requests(sim)
    assert forwarded["body"]["model"] == "openai/gpt-4o-mini"
    wait_for_degraded_gauge(client)

    # The cost could not reach Redis, so it waits in the spool for replay rather than being lost.
    [spooled] = wait_for_spooled_settlements(tmp_path / "spool")
    assert (spooled["org"], spooled["subject"], spooled["model"]) == ("acme", "alice", "openai/gpt-4o-mini")
    assert spooled["cost_usd"] == pytest.approx(float(chat.headers["x-gateway-cost-usd"]))


def test_live_redis_is_ready(start_gateway: StartGateway, redis_url: str) -> None:
    client = start_gateway(redis_url=redis_url, spool_replay_interval_s=0.2)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = {"upstream": "ok", "store": "ok", "store_fail_mode": "closed"}
    assert ready.json() == {"status": "ready", "checks": checks}
    time.sleep(0.5)  # a couple of housekeeping rounds
    assert degraded_gauge(client.get("/metrics").text) == 0


@pytest.mark.parametrize("fail_mode", ["closed", "open"])
def test_an_idle_replica_shows_the_outage_on_the_gauge(start_gateway: StartGateway, fail_mode: str) -> None:
    # No request and no /readyz call: only the housekeeping loop can notice that Redis is away.
    client = start_gateway(redis_url=dead_redis_url(), store_fail_mode=fail_mode, spool_replay_interval_s=0.2)
    wait_for_degraded_gauge(client)
