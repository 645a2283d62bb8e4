"""No log line or ledger record carries a caller's JWT, the OpenRouter key or (unless asked) the prompt.

A real `gateway serve` process logs JSON to stdout; every request below, failures included, runs through it, and
then all of its output, the Redis ledger stream and the JSONL ledger files are searched for the secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
import redis

from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, POLICY_FILE, Sim
from tests.metering.traffic import CANCELLABLE_MODEL, chat, cut_stream, slow_answer, wait_for
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _requests(url: str, token: str, prompt: str) -> int:
    """Successes, cut streams and failures of every kind, each carrying the prompt; returns the admitted count."""
    wrong_secret = mint_token("another-secret-long-enough-for-hs256-0123456", org="acme")
    expired = jwt.encode({"sub": "alice", "org_id": "acme", "exp": int(time.time()) - 3600}, JWT_SECRET, "HS256")
    admitted = [
        (chat(prompt), 200),
        (chat(prompt, stream=True, stream_options={"include_usage": True}), 200),
        (chat(prompt, sim={"error": 401}), 502),  # the gateway's own key refused upstream: not the caller's 401
        (chat(prompt, sim={"error": 400}), 400),
        (chat(f"{prompt} forbidden-topic", model=CANCELLABLE_MODEL), 403),  # moderation quotes the flagged input
        (chat(prompt, stream=True, sim={"error": "mid_stream"}), 200),
    ]
    with httpx.Client(base_url=f"{url}/v1", timeout=30) as client:
        auth = {"authorization": f"Bearer {token}"}
        for body, status in admitted:
            assert client.post("/chat/completions", json=body, headers=auth).status_code == status
        for bad in (wrong_secret, expired, f"{token}x", f"{prompt}-not-a-token"):
            response = client.post("/chat/completions", json=chat(prompt), headers={"authorization": f"Bearer {bad}"})
            assert response.status_code == 401
        rejected = [
            (b'{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "' + prompt.encode(), 400),
            (httpx.Request("POST", "/", json=chat(prompt, n="many")).content, 400),
            (httpx.Request("POST", "/", json={"messages": [{"role": "wizard", "content": prompt}]}).content, 400),
        ]
        for content, status in rejected:
            response = client.post("/chat/completions", content=content, headers={**auth, "content-type": "json"})
            assert response.status_code == status, response.text
    cut_stream(f"{url}/v1", token, chat(prompt, model=CANCELLABLE_MODEL, **slow_answer()))
    return len(admitted) + 1


@pytest.mark.parametrize("capture_prompts", [False, True])
def test_logs_and_ledger_hold_no_token_key_or_prompt(
    capture_prompts: bool, sim: Sim, redis_url: str, tmp_path: Path
) -> None:
    upstream_key = f"sk-or-v1-{uuid.uuid4().hex}"
    prompt = f"canary {uuid.uuid4().hex} prompt"
    token = mint_token(JWT_SECRET, org="acme", subject="alice", roles=["user"])
    stream_key = f"gw:ledger:test-{uuid.uuid4().hex}"
    ledger_dir = tmp_path / "ledger"
    port = free_port()
    env = {
        **os.environ, "OPENROUTER_BASE_URL": sim.base_url, "OPENROUTER_API_KEY": upstream_key,
        "GATEWAY_JWT_SECRET": JWT_SECRET, "REDIS_URL": redis_url, "GATEWAY_POLICY_FILE": str(POLICY_FILE),
        "GATEWAY_SPOOL_DIR": str(tmp_path / "spool"), "GATEWAY_LEDGER_STREAM_KEY": stream_key,
        "GATEWAY_LEDGER_SINKS": '["redis", "jsonl"]', "GATEWAY_LEDGER_DIR": str(ledger_dir),
        "GATEWAY_LOG_LEVEL": "debug", "GATEWAY_ACCESS_LOG": "true",
        "GATEWAY_LEDGER_CAPTURE_PROMPTS": "true" if capture_prompts else "false",
    }
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    url = f"http://127.0.0.1:{port}"
    store = redis.Redis.from_url(redis_url)
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=err)
        try:
            wait_for(lambda: _healthy(url, process), "the gateway to start")
            admitted = _requests(url, token, prompt)
            wait_for(lambda: store.xlen(stream_key) >= admitted, f"{admitted} ledger records")
        finally:
            process.terminate()
            process.wait(timeout=30)
    try:
        ledger = [fields[b"r"] for _, fields in store.xrange(stream_key)]
    finally:
        store.delete(stream_key)
        store.close()
    files = [path.read_bytes() for path in ledger_dir.glob("ledger.jsonl*")]
    logs = stdout.read_bytes() + stderr.read_bytes()

    # The capture really saw the traffic: one access line per request, one record per admitted call in each sink.
    assert logs.count(b'"event":"request"') >= admitted + 7
    assert b'"event":"call_reconciled"' in logs
    assert len(ledger) == admitted and sum(blob.count(b"\n") for blob in files) == admitted
    # Every line logged while serving a request names it, not only the access line.
    lines = [orjson.loads(line) for line in stdout.read_bytes().splitlines() if line.startswith(b"{")]
    in_requests = [line for line in lines if line["event"] in ("request", "auth.rejected", "call_reconciled")]
    assert {line["event"] for line in in_requests} == {"request", "auth.rejected", "call_reconciled"}
    assert all(len(line.get("request_id") or "") >= 16 for line in in_requests), in_requests

    secrets = {
        "caller's JWT": token, "JWT signature": token.rsplit(".", 1)[1], "OpenRouter key": upstream_key,
        "key's secret part": upstream_key.removeprefix("sk-or-v1-"), "prompt": prompt.split()[1],
    }
    for name, secret in secrets.items():
        assert secret.encode() not in logs, f"{name} in the logs"
    stored = b"\n".join([*ledger, *files])
    for name, secret in secrets.items():
        if name != "prompt":
            assert secret.encode() not in stored, f"{name} in the ledger"
    # Prompts stay out of the ledger unless capture is switched on; then they are there (so the check can fail).
    assert (prompt.split()[1].encode() in stored) is capture_prompts
    assert all((prompt.split()[1].encode() in record) is capture_prompts for record in ledger)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the gateway exited during start-up"
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False
