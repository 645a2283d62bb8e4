"""The gateway on a real three-node Redis Cluster: admission, settlement, ledger, cache, readiness and the admin CLI.

Every key an operation touches together shares a hash tag, so the same Lua scripts and commands run through
redis-py's cluster client; spend must still equal what the simulator billed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.metering.redis_ledger import RedisStreamLedger
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import serve

ROOT = Path(__file__).resolve().parents[2]
CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi to the cluster"}]}


async def _flush(url: str) -> None:
    client = aioredis.RedisCluster.from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


@pytest.fixture
def cluster_gateway(redis_cluster_url: str, sim: Sim, tmp_path: Path) -> Iterator[httpx.Client]:
    asyncio.run(_flush(redis_cluster_url))
    settings = gateway_settings(sim.base_url, redis_url=redis_cluster_url, redis_cluster=True,
                                redis_max_connections=500, spool_dir=str(tmp_path / "spool"))
    token = mint_token(JWT_SECRET, org="acme", subject="alice")
    with serve(create_app(settings)) as server, httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


async def _shared_state(url: str) -> tuple[float, int]:
    client = aioredis.RedisCluster.from_url(url)
    try:
        spent = (await RedisLimiterBackend(client).spend("acme")).daily_usd
        records = await RedisStreamLedger(client).read(org="acme", since=None, limit=100)
        return spent, len(records)
    finally:
        await client.aclose()


def _wait_for_state(url: str, records: int) -> float:
    deadline = time.monotonic() + 10
    while True:
        spent, found = asyncio.run(_shared_state(url))
        if found >= records or time.monotonic() > deadline:
            assert found == records
            return spent
        time.sleep(0.1)


def test_calls_are_admitted_settled_and_recorded_on_the_cluster(
    cluster_gateway: httpx.Client, redis_cluster_url: str, sim: Sim
) -> None:
    plain = cluster_gateway.post("/v1/chat/completions", json=CHAT)
    assert plain.status_code == 200, plain.text
    assert "x-ratelimit-remaining-requests" in plain.headers
    with cluster_gateway.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as streamed:
        assert streamed.status_code == 200
        assert b"data: [DONE]" in b"".join(streamed.iter_bytes())
    deterministic = {**CHAT, "temperature": 0}
    first = cluster_gateway.post("/v1/chat/completions", json=deterministic, headers={"x-gateway-cache": "on"})
    again = cluster_gateway.post("/v1/chat/completions", json=deterministic, headers={"x-gateway-cache": "on"})
    assert (first.headers["x-gateway-cache"], again.headers["x-gateway-cache"]) == ("miss", "hit")
    assert again.json()["choices"] == first.json()["choices"]

    ready = cluster_gateway.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
    # Four records (the hit costs nothing), and the spend is exactly what the simulator billed for three calls.
    spent = _wait_for_state(redis_cluster_url, records=4)
    assert spent == pytest.approx(sim.stats()["billed_usd_total"], abs=1e-9)
    assert spent > 0


def test_the_admin_cli_reads_and_writes_the_cluster(cluster_gateway: httpx.Client, redis_cluster_url: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_cluster_url, "GATEWAY_REDIS_CLUSTER": "true"}
    env.pop("GATEWAY_POLICY_FILE", None)
    done = subprocess.run([sys.executable, "-m", "gateway", "budget", "set", "acme", "--daily-usd", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-m", "gateway", "budget", "show", "acme", "--json"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["daily_usd"]["override"] == 0
    # The gateway reads the same override: a frozen budget refuses the next call.
    refused = cluster_gateway.post("/v1/chat/completions", json=CHAT)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "budget_exceeded"
