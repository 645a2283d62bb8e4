"""Policy hot reload in a real gateway process: a valid file takes over, an invalid one leaves the running policy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.auth.tokens import mint_token
from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, GatewayProcess, gateway_env
from tests.servers import ServerThread, free_port, serve

MODEL = "openai/gpt-4o-mini"
VALID_X1 = f"aliases:\n  x0: {MODEL}\n  x1: {MODEL}\n"
# Would drop x1 and add x2 if any part of it were applied; `retrys` makes the whole file invalid.
INVALID = f"aliases:\n  x0: {MODEL}\n  x2: {MODEL}\nretrys:\n  max_attempts: 2\n"
VALID_X2 = f"aliases:\n  x0: {MODEL}\n  x2: {MODEL}\n"


class LoggedGatewayProcess(GatewayProcess):
    """A gateway process whose JSON log (stdout and stderr) goes to a file the test can read while it runs."""

    def __init__(self, env: Mapping[str, str], log_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self._log: IO[bytes] = log_file.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), "--graceful-timeout", "5"],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines with this `event` (other output, e.g. uvicorn's, is skipped)."""
        lines = self.log_file.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]
        return [record for record in records if record.get("event") == event]

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        try:
            return super().stop()
        finally:
            self._log.close()


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


def _wait_for(condition: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_invalid_reload_keeps_the_running_policy(
    tmp_path: Path, sim_server: ServerThread, redis_url: str, redis_client: aioredis.Redis
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"aliases:\n  x0: {MODEL}\n")
    env = gateway_env(f"{sim_server.url}/api/v1", redis_url, str(policy), str(tmp_path))
    gateway = LoggedGatewayProcess(env, tmp_path / "gateway.log")
    token = mint_token(JWT_SECRET, org="acme", subject="ops")
    try:
        gateway.wait_ready()
        with httpx.Client(base_url=f"{gateway.url}/v1", headers={"authorization": f"Bearer {token}"}) as client:

            def status(model: str) -> int:
                body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
                return client.post("/chat/completions", json=body).status_code

            assert status("x0") == 200
            assert status("x1") == 400  # unknown_task

            policy.write_text(VALID_X1)
            gateway.reload()
            assert _wait_for(lambda: status("x1") == 200), "the valid policy adding x1 was not loaded"
            assert gateway.log_events("policy_reloaded")  # (the 2 s file poll may have beaten the signal: ≥ 1)

            policy.write_text(INVALID)
            gateway.reload()
            assert _wait_for(lambda: bool(gateway.log_events("policy_reload_failed"))), gateway.log_file.read_text()
            failed = gateway.log_events("policy_reload_failed")[0]
            assert "retrys" in str(failed["problems"])  # the log names the problem
            assert status("x1") == 200  # the old policy is still in force...
            assert status("x2") == 400  # ...and nothing of the invalid one was applied
            assert status("x0") == 200

            policy.write_text(VALID_X2)
            gateway.reload()
            assert _wait_for(lambda: status("x2") == 200), "the valid policy adding x2 was not loaded"
            assert status("x1") == 400
    finally:
        gateway.stop()
