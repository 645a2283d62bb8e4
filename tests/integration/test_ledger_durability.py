"""Redis killed (SIGKILL) in the middle of load: afterwards ledger = bill = spend, with no record lost or doubled.

Two gateway processes serve steady traffic on a private redis-server with an fsync'd AOF; the server is killed
outright while calls are in flight (admitted, not yet settled or recorded), restarted, and the traffic goes on.
Calls that finished during the outage spool both their settlement and their ledger record; both are replayed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.sim.app import create_sim_app
from tests.integration.durable_redis import DurableRedis
from tests.integration.processes import JWT_SECRET, GatewayProcess, gateway_env, replicas, sim_stats
from tests.servers import serve

STREAM_KEY = "gw:ledger"
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "sim": {"ttft_ms": 300}}


async def _load(gateways: list[GatewayProcess], token: str, stop: asyncio.Event) -> list[int]:
    """Sixteen clients calling back to back (alternating replicas) until `stop`; every status, in order."""
    statuses: list[int] = []

    async def client_loop(index: int) -> None:
        async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
            while not stop.is_set():
                response = await client.post(f"{gateways[index % 2].url}/v1/chat/completions", json=BODY)
                statuses.append(response.status_code)
                if response.status_code == 503:
                    await asyncio.sleep(0.05)  # Redis away: fail closed, try again shortly

    await asyncio.gather(*(client_loop(i) for i in range(16)))
    return statuses


async def _settled(redis_url: str, spool: Path, billed: float) -> tuple[list[dict], float]:
    """The ledger and the org's spend once both spools are replayed (or after 45 s, for the assertions to report).

    Calls settle in the background after their answer is sent, and one that was waiting on the dead Redis waits
    out its connect and reply timeouts before it spools, so convergence can take a while on a busy machine.
    """
    client = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 45
        while True:
            entries = await client.xrange(STREAM_KEY)
            spend = (await RedisLimiterBackend(client).spend("acme")).daily_usd
            ledger_cost = sum(orjson.loads(fields[b"r"])["cost_usd"] for _, fields in entries)
            replayed = not await asyncio.to_thread(lambda: list(spool.glob("*.jsonl*")))
            if replayed and spend == pytest.approx(billed, abs=1e-9) and ledger_cost == pytest.approx(billed, abs=1e-9):
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        return [orjson.loads(fields[b"r"]) for _, fields in entries], spend
    finally:
        await client.aclose()


async def test_redis_killed_mid_load_keeps_ledger_equal_to_bill_and_spend(
    tmp_path: Path, durable_redis: DurableRedis
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("defaults: {rpm: null, tpm: null}\norgs:\n  acme:\n    daily_budget_usd: 100\n")
    spool = tmp_path / "spool"
    token = mint_token(JWT_SECRET, org="acme", subject="loader")
    with serve(create_sim_app()) as sim_server:
        env = gateway_env(f"{sim_server.url}/api/v1", durable_redis.url, str(policy), str(spool))
        with replicas(2, env) as gateways:
            stop = asyncio.Event()
            load = asyncio.ensure_future(_load(gateways, token, stop))
            await asyncio.sleep(1.5)
            durable_redis.kill()  # sixteen calls are in flight, most of them admitted and waiting on the answer
            await asyncio.sleep(1.0)
            durable_redis.start()
            await asyncio.sleep(2.5)  # admissions resume within about a second; keep the load on a little longer
            stop.set()
            statuses = await load
            billed = (await sim_stats(sim_server.url))["billed_usd_total"]
            records, spend = await _settled(durable_redis.url, spool, billed)

    served = statuses.count(200)
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 503 in statuses and served > 50  # the outage really refused calls, and plenty were served around it
    assert len(records) == served  # every served call recorded once: none lost, none replayed twice
    assert len({record["request_id"] for record in records}) == served
    assert billed > 0
    assert sum(record["cost_usd"] for record in records) == pytest.approx(billed, abs=1e-9)
    assert spend == pytest.approx(billed, abs=1e-9)
    assert not list(spool.glob("*.jsonl*"))  # every spool (settlements and ledger records) was replayed and removed
