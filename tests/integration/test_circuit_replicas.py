"""A model's circuit, opened through one gateway process, is open in every replica sharing the Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, GatewayProcess, gateway_env, replicas
from tests.servers import ServerThread, serve

MODEL = "openai/gpt-4o-mini"  # called by its id: no task, so no fallback to hide the circuit
COOLDOWN_S = 1.0
POLICY = f"""\
retry: {{max_attempts: 1}}
circuit_breaker: {{min_requests: 3, failure_rate: 0.5, cooldown_s: {COOLDOWN_S:g}, window_s: 30}}
"""
BODY = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "Are you there?"}]}


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_server.url) as control:
        control.post("/_sim/reset").raise_for_status()
        try:
            yield control
        finally:
            control.delete("/_sim/faults")


async def _sent(sim: httpx.AsyncClient) -> int:
    """Requests for MODEL that reached the simulator."""
    return int((await sim.get("/_sim/stats")).json()["requests_by_model"].get(MODEL, 0))


def _assert_circuit_open(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "circuit_open"
    assert response.json()["error"]["type"] == "api_error"
    assert 1 <= int(response.headers["retry-after"]) <= COOLDOWN_S + 1


def _assert_upstream_failure(response: httpx.Response) -> None:
    """The simulator's 503, relayed: the request was sent, not stopped by the breaker."""
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] != "circuit_open"


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def test_circuit_opens_in_every_replica_and_a_probe_closes_it(
    tmp_path: Path, sim_server: ServerThread, sim: httpx.Client, redis_url: str, redis_client: aioredis.Redis
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    env = gateway_env(f"{sim_server.url}/api/v1", redis_url, str(policy), str(tmp_path))
    token = mint_token(JWT_SECRET, org="acme", subject="breaker")
    with replicas(2, env) as (a, b):
        async with (
            httpx.AsyncClient(timeout=10, headers={"authorization": f"Bearer {token}"}) as client,
            httpx.AsyncClient(base_url=sim_server.url) as control,
        ):
            (await control.post("/_sim/faults", json={"model": MODEL, "error": 503, "count": None})).raise_for_status()

            async def chat(replica: GatewayProcess) -> httpx.Response:
                return await client.post(f"{replica.url}/v1/chat/completions", json=BODY)

            # Fail the model through A until its circuit opens: min_requests failures are sent, then it is open.
            failures: list[httpx.Response] = []
            response = await chat(a)
            while response.json()["error"]["code"] != "circuit_open" and len(failures) < 6:
                failures.append(response)
                opened_by = time.monotonic()  # the last failure was recorded before its reply was sent
                response = await chat(a)
            assert len(failures) == 3
            for failure in failures:
                _assert_upstream_failure(failure)
            _assert_circuit_open(response)
            assert await _sent(control) == 3

            # B never called the model, yet refuses it without sending anything upstream.
            _assert_circuit_open(await chat(b))
            assert await _sent(control) == 3

            # After the cool-down one request goes through as a half-open probe; its failure reopens the circuit.
            await _sleep_until(opened_by + COOLDOWN_S + 0.05)
            _assert_upstream_failure(await chat(b))
            assert await _sent(control) == 4
            reopened_by = time.monotonic()
            _assert_circuit_open(await chat(a))
            _assert_circuit_open(await chat(b))
            assert await _sent(control) == 4

            # Next cool-down: the model has recovered, the probe succeeds and closes the circuit everywhere.
            (await control.delete("/_sim/faults")).raise_for_status()
            await _sleep_until(reopened_by + COOLDOWN_S + 0.05)
            probe = await chat(a)
            assert probe.status_code == 200, probe.text
            assert await _sent(control) == 5
            for replica in (b, a, b, a):
                answered = await chat(replica)
                assert answered.status_code == 200, answered.text
                assert answered.headers["x-gateway-model-served"] == MODEL
            assert await _sent(control) == 9
