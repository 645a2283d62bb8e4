"""SIGTERM mid-traffic: in-flight calls finish, new connections are refused, every settlement lands.

This is what a rolling deploy relies on (Kubernetes sends SIGTERM after the preStop sleep, then waits
`terminationGracePeriodSeconds`): a replica must not cut streams, drop settlements or leak reservations.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, GatewayProcess, gateway_env, sim_stats
from tests.servers import ServerThread, serve

MODEL = "openai/gpt-4o-mini"
ORG = "acme"
GRACEFUL_TIMEOUT_S = 5.0  # what tests/integration/processes.py passes as --graceful-timeout
STREAMS = 4
SLOW_JSON = 4
# 40 tokens at 50 ms is ~2 s per stream; 1.5 s to first token for JSON: both well inside the graceful timeout.
STREAM_SIM = {"inter_token_ms": 50, "completion_tokens": 40}
JSON_SIM = {"ttft_ms": 1500}


@pytest.fixture
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def gateway(tmp_path: Path, sim_server: ServerThread, redis_url: str) -> Iterator[GatewayProcess]:
    # A budget makes every admission reserve money, so a lost settlement would show as a leftover reservation.
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"defaults:\n  max_completion_tokens: 64\norgs:\n  {ORG}:\n    daily_budget_usd: 100\n")
    env = gateway_env(f"{sim_server.url}/api/v1", redis_url, str(policy), str(tmp_path / "spool"))
    process = GatewayProcess(env)
    try:
        process.wait_ready()
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)


def _body(i: int, *, stream: bool) -> dict:
    return {
        "model": MODEL,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Tell me a long story, number {i}"}],
        "sim": STREAM_SIM if stream else JSON_SIM,
    }


async def _stream(client: httpx.AsyncClient, url: str, i: int) -> tuple[int, str]:
    async with client.stream("POST", f"{url}/v1/chat/completions", json=_body(i, stream=True)) as response:
        text = "".join([chunk async for chunk in response.aiter_text()])
        return response.status_code, text


async def _json(client: httpx.AsyncClient, url: str, i: int) -> httpx.Response:
    return await client.post(f"{url}/v1/chat/completions", json=_body(i, stream=False))


async def _wait_in_flight(sim_url: str, count: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await sim_stats(sim_url))["in_flight"] >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the simulator never saw {count} requests in flight")


async def _wait_refused(url: str, timeout_s: float = 2) -> None:
    """A fresh connection (no pooled keep-alive) must be refused once the listener is closed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient(timeout=0.5) as fresh:
                await fresh.get(f"{url}/healthz")
        except httpx.ConnectError:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the gateway still accepted new connections after SIGTERM")


async def test_sigterm_drains_in_flight_calls_and_settles_every_one(
    gateway: GatewayProcess, sim_server: ServerThread, redis_client: aioredis.Redis
) -> None:
    token = mint_token(JWT_SECRET, org=ORG, subject="shutdown-test")
    limits = httpx.Limits(max_connections=STREAMS + SLOW_JSON)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers={"authorization": f"Bearer {token}"}) as client:
        streams = [asyncio.ensure_future(_stream(client, gateway.url, i)) for i in range(STREAMS)]
        slow = [asyncio.ensure_future(_json(client, gateway.url, i)) for i in range(SLOW_JSON)]
        await _wait_in_flight(sim_server.url, STREAMS + SLOW_JSON)

        gateway.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        await _wait_refused(gateway.url)
        # Refusal must happen while the calls are still running, or this proves nothing about draining.
        assert not any(task.done() for task in [*streams, *slow])

        stream_results = await asyncio.gather(*streams)
        json_results = await asyncio.gather(*slow)

    for status, text in stream_results:
        assert status == 200, text
        assert text.rstrip().endswith("data: [DONE]"), text[-300:]
        assert text.count("data: [DONE]") == 1
    for response in json_results:
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"]

    returncode = await asyncio.to_thread(gateway.process.wait, GRACEFUL_TIMEOUT_S + 1)
    elapsed = time.monotonic() - signalled_at
    stderr = gateway.process.stderr.read().decode() if gateway.process.stderr else ""
    assert returncode == 0, stderr
    assert elapsed < GRACEFUL_TIMEOUT_S, f"took {elapsed:.1f} s to exit"

    stats = await sim_stats(sim_server.url)
    assert stats["completions_total"] == STREAMS + SLOW_JSON
    assert stats["streams_cancelled"] == 0
    spend = await RedisLimiterBackend(redis_client).spend(ORG)
    assert stats["billed_usd_total"] > 0
    assert spend.daily_usd == pytest.approx(stats["billed_usd_total"], abs=1e-9)
    assert spend.reserved_usd == pytest.approx(0, abs=1e-12)
    assert spend.reservations == 0


LONG_STREAM_SIM = {"inter_token_ms": 100, "completion_tokens": 300}  # ~30 s: far past the graceful timeout


async def test_streams_longer_than_the_grace_period_end_with_an_error_event_and_are_recorded(
    gateway: GatewayProcess, sim_server: ServerThread, redis_client: aioredis.Redis
) -> None:
    token = mint_token(JWT_SECRET, org=ORG, subject="shutdown-test")
    limits = httpx.Limits(max_connections=STREAMS)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers={"authorization": f"Bearer {token}"}) as client:

        async def long_stream(i: int) -> tuple[int, str]:
            body = {**_body(i, stream=True), "sim": LONG_STREAM_SIM}
            async with client.stream("POST", f"{gateway.url}/v1/chat/completions", json=body) as response:
                return response.status_code, "".join([chunk async for chunk in response.aiter_text()])

        streams = [asyncio.ensure_future(long_stream(i)) for i in range(STREAMS)]
        await _wait_in_flight(sim_server.url, STREAMS)
        await asyncio.sleep(0.5)  # some tokens have gone out: the status is fixed, only an SSE event can say why
        gateway.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        results = await asyncio.gather(*streams)

    ended_after = time.monotonic() - signalled_at
    assert ended_after < GRACEFUL_TIMEOUT_S  # ended by the gateway before the server would have cut them
    for status, text in results:
        assert status == 200
        events = [event for event in text.split("\n\n") if event.startswith("data: ")]
        assert len(events) > 2 and "data: [DONE]" not in text
        final = orjson.loads(events[-1][len("data: "):])
        assert final["error"]["code"] == "server_shutting_down", events[-1]

    returncode = await asyncio.to_thread(gateway.process.wait, 20)
    stderr = gateway.process.stderr.read().decode() if gateway.process.stderr else ""
    assert returncode == 0, stderr
    records = [orjson.loads(fields[b"r"]) for _, fields in await redis_client.xrange("gw:ledger")]
    assert len(records) == STREAMS
    assert all(record["status"] == 200 and record["error_type"] for record in records)
    stats = await sim_stats(sim_server.url)
    assert stats["streams_cancelled"] == STREAMS and stats["billed_usd_total"] > 0
    spend = await RedisLimiterBackend(redis_client).spend(ORG)
    assert spend.reserved_usd == pytest.approx(0, abs=1e-12) and spend.reservations == 0
    assert spend.daily_usd == pytest.approx(sum(record["cost_usd"] for record in records), abs=1e-9)
    assert spend.daily_usd == pytest.approx(stats["billed_usd_total"], rel=0.01)  # reconciled with /generation
