from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from gateway.limits import RedisLimiterBackend, Settlement
from gateway.limits.keys import OrgKeys
from gateway.limits.types import to_nano

REPO = Path(__file__).resolve().parents[2]

POLICY = """
defaults:
  rpm: 60
orgs:
  acme:
    daily_budget_usd: 10
    monthly_budget_usd: 200
    tpm: 50000
  policy-only:
    monthly_budget_usd: 30
"""

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    """The test db, flushed; sync, so the CLI tests can stay plain functions around subprocess calls."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def base_environment() -> dict[str, str]:
    """The parent environment without anything that configures the gateway, so only what a test sets counts."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GATEWAY_") and name not in ("REDIS_URL", "PYTHONPATH")
    }


@pytest.fixture
def cli(clean_redis: str, policy_file: Path) -> Cli:
    """Run `python -m gateway.admin ARGS` against the test Redis and policy; extra env via `env=`."""

    def run(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        environment = base_environment() | {"REDIS_URL": clean_redis, "GATEWAY_POLICY_FILE": str(policy_file)}
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        return subprocess.run(
            [sys.executable, "-m", "gateway.admin", *args],
            cwd=REPO, env=environment, capture_output=True, text=True, timeout=60, check=False,
        )

    return run


def record_spend(redis_url: str, settlements: list[Settlement], past_days: dict[str, float] | None = None) -> None:
    """Record spend as the gateway does, through the limiter. Settlement always lands on the Redis server's
    today, so `past_days` (acme's totals of earlier days) is written into the per-day hash directly."""

    async def record() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            backend = RedisLimiterBackend(client)
            for settlement in settlements:
                await backend.settle(settlement)
            for day, usd in (past_days or {}).items():
                await client.hset(OrgKeys("acme").spend_by_day, day, str(to_nano(usd)))
        finally:
            await client.aclose()

    asyncio.run(record())
