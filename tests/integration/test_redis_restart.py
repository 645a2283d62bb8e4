"""A Redis restart in the middle of load loses no settled spend: settlements spool locally and replay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.sim.app import create_sim_app
from tests.integration.durable_redis import DurableRedis
from tests.integration.processes import JWT_SECRET, gateway_env, replicas, sim_stats
from tests.servers import serve


async def test_redis_restart_mid_load_loses_no_settled_spend(tmp_path: Path, durable_redis: DurableRedis) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("orgs:\n  acme:\n    daily_budget_usd: 100\n")
    with serve(create_sim_app()) as sim_server:
        # Answers take ~0.4 s, so many are in flight (admitted, not yet settled) when Redis goes away.
        env = gateway_env(f"{sim_server.url}/api/v1", durable_redis.url, str(policy), str(tmp_path / "spool"))
        with replicas(2, env) as gateways:
            token = mint_token(JWT_SECRET, org="acme", subject="loader")
            body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
                    "sim": {"ttft_ms": 400}}
            async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
                first = [client.post(f"{gateways[i % 2].url}/v1/chat/completions", json=body) for i in range(40)]
                in_flight = asyncio.gather(*first)
                await asyncio.sleep(0.2)
                durable_redis.stop()
                during = await asyncio.gather(
                    *(client.post(f"{g.url}/v1/chat/completions", json=body) for g in gateways)
                )
                answered = await in_flight
                durable_redis.start()
                # The gateway probes a store it saw fail about once a second; admissions resume after that.
                recovery_deadline = time.monotonic() + 10
                while True:
                    after = await client.post(f"{gateways[0].url}/v1/chat/completions", json=body)
                    if after.status_code != 503 or time.monotonic() > recovery_deadline:
                        break
                    await asyncio.sleep(0.2)

            assert all(r.status_code == 200 for r in answered)  # admitted before the outage, settled during it
            assert all(r.status_code == 503 for r in during)  # fail closed: nothing admitted without Redis
            assert after.status_code == 200
            billed = (await sim_stats(sim_server.url))["billed_usd_total"]
            client_redis = aioredis.Redis.from_url(durable_redis.url)
            try:
                deadline = time.monotonic() + 15
                while True:
                    spend = await RedisLimiterBackend(client_redis).spend("acme")
                    if spend.daily_usd == pytest.approx(billed, abs=1e-9) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
            finally:
                await client_redis.aclose()
    assert billed > 0
    assert spend.daily_usd == pytest.approx(billed, abs=1e-9)
    assert len(list((tmp_path / "spool").glob("*.jsonl"))) == 0  # every spool was replayed and removed
