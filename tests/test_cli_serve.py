"""`gateway serve` as a user starts it: refuses without a key, runs on the simulator with --simulate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from gateway.auth.tokens import mint_token
from tests.servers import free_port

SECRET = "cli-test-secret-long-enough-for-hs256-012345"


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "REDIS_URL", "GATEWAY_POLICY_FILE")}
    return {**env, "GATEWAY_JWT_SECRET": SECRET, **extra}


def test_serve_without_a_key_refuses_with_a_clear_message() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--port", str(free_port())],
                            env=_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "OPENROUTER_API_KEY is not set" in result.stderr and "--simulate" in result.stderr


def test_serve_simulate_answers_the_readme_curl_and_stops_cleanly(tmp_path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--simulate", "--port", str(port)],
        env=_env(GATEWAY_SPOOL_DIR=str(tmp_path)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gateway --simulate did not get ready"
            time.sleep(0.2)
        token = mint_token(SECRET, org="demo", subject="quickstart")
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", headers={"authorization": f"Bearer {token}"},
            json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}, timeout=10,
        )
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0
    assert "built-in OpenRouter simulator" in (process.stderr.read() if process.stderr else "")
