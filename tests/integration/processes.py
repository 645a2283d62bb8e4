"""Gateway replicas as real OS processes (`python -m gateway serve`), for tests across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager

import httpx

from tests.servers import free_port

JWT_SECRET = "replica-test-secret-long-enough-for-hs256-0123"
UPSTREAM_KEY = "sk-or-v1-replica-tests"


class GatewayProcess:
    def __init__(self, env: Mapping[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), "--graceful-timeout", "5"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"gateway exited: {output}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway on {self.port} did not become ready")

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=20)


async def sim_stats(sim_url: str) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{sim_url}/_sim/stats")).json()


def gateway_env(sim_base_url: str, redis_url: str, policy_file: str, spool_dir: str, **extra: str) -> dict[str, str]:
    return {
        "OPENROUTER_BASE_URL": sim_base_url,
        "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "GATEWAY_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": redis_url,
        "GATEWAY_POLICY_FILE": policy_file,
        "GATEWAY_SPOOL_DIR": spool_dir,
        "GATEWAY_ACCESS_LOG": "false",
        "GATEWAY_SPOOL_REPLAY_INTERVAL_S": "0.2",
        **extra,
    }


@contextmanager
def replicas(count: int, env: Mapping[str, str]) -> Iterator[list[GatewayProcess]]:
    with ExitStack() as stack:
        started = [GatewayProcess(env) for _ in range(count)]
        for process in started:
            stack.callback(process.stop)
        for process in started:
            process.wait_ready()
        yield started
