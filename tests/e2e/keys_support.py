"""Two gateway replicas on one Redis, and the `gateway keys` CLI run as a user runs it, for the API key tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from gateway.app import create_app
from tests.admin.conftest import REPO, base_environment
from tests.e2e.conftest import gateway_settings
from tests.servers import ServerThread, serve

CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}


@dataclass
class Replicas:
    servers: list[ServerThread]
    redis_url: str
    policy: Path

    def url(self, index: int) -> str:
        return f"{self.servers[index % len(self.servers)].url}/v1"

    def chat(self, index: int, credential: str, **extra: object) -> httpx.Response:
        return httpx.post(f"{self.url(index)}/chat/completions", json={**CHAT, **extra},
                          headers={"authorization": f"Bearer {credential}"}, timeout=15)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m gateway ARGS` against the replicas' Redis and policy, as an operator runs it."""
        environment = base_environment() | {"REDIS_URL": self.redis_url, "GATEWAY_POLICY_FILE": str(self.policy)}
        return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=REPO, env=environment,
                              capture_output=True, text=True, timeout=60, check=False)

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.command("keys", *args)

    def create_key(self, *args: str) -> dict:
        done = self.keys("create", "--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def flushed(redis_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url


def start_replicas(sim_base_url: str, redis_url: str, policy: Path, count: int = 2) -> Iterator[Replicas]:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(serve(create_app(gateway_settings(sim_base_url, policy_file=str(policy),
                                                                  redis_url=redis_url))))
            for _ in range(count)
        ]
        yield Replicas(servers, redis_url, policy)
