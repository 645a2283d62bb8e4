"""`GET /v1/key` and `GET /v1/usage` over real sockets on two replicas and a real Redis, checked against the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.limits import Budget, RedisLimiterBackend, Settlement
from tests.e2e.conftest import JWT_SECRET, Sim
from tests.e2e.keys_support import Replicas, flushed, start_replicas

POLICY = """
orgs:
  acme: {rpm: 1000, tpm: 200000, daily_budget_usd: 50, monthly_budget_usd: 500}
totals:
  tags: [run_id, session_id]
  retention_days: 30
"""


@pytest.fixture
def replicas(sim: Sim, redis_url: str, tmp_path: Path) -> Iterator[Replicas]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    yield from start_replicas(sim.base_url, flushed(redis_url), policy)


def jwt(roles: tuple[str, ...] = ()) -> str:
    return mint_token(JWT_SECRET, org="acme", subject="alice", roles=list(roles))


def get(replicas: Replicas, index: int, path: str, credential: str, **params: str) -> httpx.Response:
    return httpx.get(f"{replicas.url(index)}{path}", params=params, timeout=10,
                     headers={"authorization": f"Bearer {credential}"})


def cli_json(replicas: Replicas, *args: str) -> dict:
    done = replicas.command(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_v1_key_answers_jwt_and_key_callers_with_figures_that_agree_with_the_cli(replicas: Replicas) -> None:
    created = replicas.create_key("--org", "acme", "--name", "agent", "--rpm", "10", "--daily-usd", "1")
    key = created["key"]
    assert [replicas.chat(i, jwt()).status_code for i in range(2)] == [200, 200]
    assert replicas.chat(1, key).status_code == 200
    # Read at once: one request of the key's 10 per minute is back after 6 s.
    as_key = get(replicas, 1, "/key", key).json()["data"]
    usage = cli_json(replicas, "usage", "acme")
    shown = cli_json(replicas, "keys", "show", "--org", "acme", created["id"])
    as_jwt = get(replicas, 0, "/key", jwt()).json()["data"]
    assert as_jwt["usage_daily"] == usage["today_usd"] and as_jwt["usage_monthly"] == usage["month_usd"]
    assert as_jwt["usage"] == usage["total_usd"] and as_jwt["label"] == "alice"
    assert (as_jwt["limit"], as_jwt["limit_reset"]) == (50.0, "daily")
    assert as_jwt["limit_remaining"] == pytest.approx(50.0 - usage["today_usd"], abs=1e-9)
    detail = as_jwt["gateway"]
    assert (detail["org"], detail["subject"], detail["key"]) == ("acme", "alice", None)
    # At 1000 rpm a request is replenished every 60 ms, so the three calls may already be back.
    assert detail["rate_limits"]["org_rpm"]["limit"] == 1000 and detail["rate_limits"]["org_rpm"]["remaining"] <= 1000
    assert detail["rate_limits"]["org_tpm"]["limit"] == 200000
    daily = detail["budgets"]["org"]["daily"]
    assert (daily["budget_usd"], daily["spent_usd"], daily["reserved_usd"]) == (50.0, usage["today_usd"], 0.0)
    assert daily["period"] == usage["day"] and 0 < daily["resets_in_s"] <= 86_400 and daily["resets_at"].endswith("Z")
    assert detail["budgets"]["org"]["monthly"]["budget_usd"] == 500.0 and detail["budgets"]["key"] is None

    assert as_key["usage"] == shown["spent_usd"] > 0 and as_key["usage_daily"] == shown["spent_today_usd"]
    assert as_key["label"] == created["prefix"] + "…" and key not in json.dumps(as_key)
    assert (as_key["limit"], as_key["limit_reset"]) == (1.0, "daily")  # the key's budget is the tighter one
    assert as_key["limit_remaining"] == pytest.approx(1.0 - shown["spent_usd"], abs=1e-9)
    assert as_key["rate_limit"]["requests"] == 10
    detail = as_key["gateway"]
    assert detail["key"] == {"id": created["id"], "name": "agent", "prefix": created["prefix"]}
    assert detail["rate_limits"]["key_rpm"] == {"limit": 10, "remaining": 9,
                                                "resets_in_s": detail["rate_limits"]["key_rpm"]["resets_in_s"]}
    assert detail["budgets"]["key"]["daily"]["spent_usd"] == shown["spent_today_usd"]
    assert detail["budgets"]["org"]["daily"]["spent_usd"] == usage["today_usd"]
    # Asking consumes nothing.
    def remaining() -> int:
        return int(get(replicas, 0, "/key", key).json()["data"]["gateway"]["rate_limits"]["key_rpm"]["remaining"])

    first = remaining()
    assert 8 <= first <= 10 and all(remaining() >= first for _ in range(3))  # a read that consumed would drop it
    assert get(replicas, 0, "/key", "gwk-" + "y" * 43).status_code == 401


def _settle_tagged(redis_url: str, count: int) -> float:
    """Settle as the pipeline does once it passes the call's tags (see the report): through the limiter backend."""

    async def settle() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            backend = RedisLimiterBackend(client)
            await asyncio.gather(*(
                backend.settle(Settlement(f"tagged-{i}", "acme", "alice", "m", 0.0011 * (i + 1), 7, Budget(),
                                          tags={"run_id": "run-42"}, tag_retention_s=3600))
                for i in range(count)
            ))
        finally:
            await client.aclose()

    asyncio.run(settle())
    return sum(round(0.0011 * (i + 1) * 1e9) for i in range(count)) / 1e9


def test_totals_by_tag_for_callers_admins_and_the_cli(replicas: Replicas) -> None:
    expected = _settle_tagged(replicas.redis_url, 100)
    tag = {"key": "run_id", "value": "run-42", "cost_usd": expected, "tokens": 700, "calls": 100}
    own = get(replicas, 0, "/usage", jwt(), tag="run_id:run-42").json()
    assert own["tag"]["calls"] == 100 and own["tag"] == pytest.approx(tag)
    admin = httpx.get(f"{replicas.servers[1].url}/admin/orgs/acme/usage", params={"tag": "run_id:run-42"},
                      headers={"authorization": f"Bearer {jwt(('admin',))}"}, timeout=10).json()
    assert admin["tag"] == own["tag"] and "by_day" in admin
    assert cli_json(replicas, "usage", "acme", "--tag", "run_id=run-42")["tag"] == own["tag"]
    table = replicas.command("usage", "acme", "--tag", "run_id=run-42")
    assert "tag run_id=run-42" in table.stdout and "100" in table.stdout
    # A tag key the policy does not total is refused rather than answered with a misleading zero.
    refused = get(replicas, 1, "/usage", jwt(), tag="user:bob")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tag"
    assert get(replicas, 1, "/usage", jwt(), tag="no-separator").status_code == 400
    assert replicas.command("usage", "acme", "--tag", "user=bob").returncode == 2
    assert get(replicas, 0, "/usage", jwt(), tag="run_id:other").json()["tag"]["calls"] == 0
