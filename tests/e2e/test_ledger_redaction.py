"""A client's own secrets never reach the Redis ledger, whichever client-supplied string carries them.

A JWT, an OpenRouter key and a gateway API key are sent through a real gateway (on a real socket, with a real
Redis ledger) in `metadata`, in `x-gateway-tags`, as `x-request-id` and inside a model id's variant suffix; the
stream is then searched for each of them and for their secret parts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.metering.traffic import chat
from tests.servers import serve


def _secrets() -> dict[str, str]:
    client_jwt = mint_token(f"someone-elses-secret-{uuid.uuid4().hex}", org="victim", subject="bob")
    return {
        "jwt": client_jwt,
        "openrouter key": f"sk-or-v1-{uuid.uuid4().hex}",
        "gateway key": f"gwk-{uuid.uuid4().hex}",
    }


@pytest.fixture
def stream_key(redis_url: str) -> Iterator[str]:
    key = f"gw:ledger:test-{uuid.uuid4().hex}"
    yield key
    store = redis.Redis.from_url(redis_url)
    store.delete(key)
    store.close()


def test_secrets_in_tags_request_ids_and_model_ids_never_reach_the_redis_ledger(
    sim: Sim, redis_url: str, stream_key: str
) -> None:
    secrets = _secrets()
    settings = gateway_settings(sim.base_url, redis_url=redis_url, ledger_stream_key=stream_key)
    token = mint_token(JWT_SECRET, org="acme", subject="alice")
    calls = 0
    with serve(create_app(settings)) as gateway, httpx.Client(
        base_url=f"{gateway.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for name, secret in secrets.items():
            metadata = {"note": f"here is {secret}", "api_key": "innocent-looking", name.replace(" ", "_"): secret}
            headers = {"x-gateway-tags": f"carried={secret},plain=yes", "x-request-id": secret}
            response = client.post("/chat/completions", json=chat("hi", metadata=metadata), headers=headers)
            assert response.status_code == 200, response.text
            # The echoed id is a fresh one: a credential sent as a request id is never kept.
            assert secret not in response.headers["x-request-id"]
            calls += 1
            streamed = client.post("/chat/completions", headers={"x-request-id": f"{secret}"},
                                   json=chat("hi", stream=True, metadata={"k": secret}))
            assert streamed.status_code == 200
            calls += 1
            # A secret in a variant suffix passes the catalogue (its base id is known), so the call is admitted and
            # recorded whatever the simulator then answers.
            variant = client.post("/chat/completions", json=chat("hi", model=f"openai/gpt-4o-mini:{secret}"))
            assert variant.status_code in (200, 400, 404), variant.text
            calls += 1
        store = redis.Redis.from_url(redis_url)
        try:
            deadline = time.monotonic() + 10
            while store.xlen(stream_key) < calls and time.monotonic() < deadline:
                time.sleep(0.05)
            ledger = b"\n".join(fields[b"r"] for _, fields in store.xrange(stream_key))
            count = store.xlen(stream_key)
        finally:
            store.close()
    assert count == calls
    assert b"[redacted]" in ledger  # the secrets were seen and masked, not dropped with their records
    assert b'"plain":"yes"' in ledger  # tags without secrets are kept as they were sent
    for name, secret in secrets.items():
        # The whole secret and its secret parts (a JWT's payload and signature, a key's random tail).
        parts = {secret, *secret.split(".")[1:]} if name == "jwt" else {secret, secret.rsplit("-", 1)[1]}
        for part in parts:
            assert part.encode() not in ledger, f"{name} ({part[:12]}…) in the Redis ledger"
