"""/metrics stays small and says nothing secret whatever model ids clients invent, and can require a token."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metric_labels import OTHER
from tests.e2e.conftest import JWT_SECRET, POLICY_FILE, Sim, gateway_settings
from tests.servers import ServerThread, serve

METRICS_TOKEN = f"metrics-{uuid.uuid4().hex}"
# Every series of a fresh gateway plus the few a handful of known models and `other` add; far below the tens of
# thousands 1,000 distinct ids made before label values were folded.
MAX_SERIES = 600


@pytest.fixture
def gateway(sim: Sim, tmp_path: Path) -> Iterator[ServerThread]:
    policy = tmp_path / "policy.yaml"  # the contract policy without rate limits: 1,000 calls in a few seconds
    policy.write_text(POLICY_FILE.read_text() + "defaults: {rpm: null, tpm: null}\n")
    settings = gateway_settings(sim.base_url, redis_url=None, metrics_token=METRICS_TOKEN, policy_file=str(policy))
    with serve(create_app(settings)) as server:
        yield server


def _series(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _model_labels(text: str) -> set[str]:
    return set(re.findall(r'(?:^|[{,])(?:model|from_model|to_model)="([^"]*)"', text, re.MULTILINE))


async def _call(client: httpx.AsyncClient, model: str, gate: asyncio.Semaphore) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    async with gate:
        return (await client.post("/v1/chat/completions", json=body)).status_code


def test_a_thousand_invented_model_ids_leave_metrics_bounded_and_secret_free(gateway: ServerThread) -> None:
    token = mint_token(JWT_SECRET, org="acme", subject="alice")
    secret = f"sk-or-v1-{uuid.uuid4().hex}"
    # Unknown variants of a known model and pass-through ids are admitted (the catalogue check lets them by).
    models = [f"openai/gpt-4o-mini:v{i}" for i in range(500)] + [f"~acme/model-{i}" for i in range(499)]
    models.append(f"openai/gpt-4o-mini:{secret}")

    async def drive() -> list[int]:
        gate = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30,
                                     headers={"authorization": f"Bearer {token}"}) as client:
            return await asyncio.gather(*(_call(client, model, gate) for model in [*models, "openai/gpt-4o-mini"]))

    statuses = asyncio.run(drive())
    assert statuses[-1] == 200, sorted(set(statuses))
    admitted = sum(status not in (401, 403, 404, 429) for status in statuses)
    assert admitted > 900, sorted(set(statuses))
    response = httpx.get(f"{gateway.url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    text = response.text
    requests = sum(float(line.rsplit(" ", 1)[1]) for line in _series(text)
                   if line.startswith("gateway_requests_total{"))
    assert requests == admitted  # every call was counted, folded into the few labels below
    assert _model_labels(text) <= {"openai/gpt-4o-mini", OTHER}
    assert OTHER in _model_labels(text)
    assert len(_series(text)) < MAX_SERIES, len(_series(text))
    assert secret not in text and secret.removeprefix("sk-or-v1-") not in text


def test_metrics_without_the_token_is_a_401(gateway: ServerThread) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": METRICS_TOKEN}):
        response = httpx.get(f"{gateway.url}/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert "gateway_" not in response.text
    good = httpx.get(f"{gateway.url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert good.status_code == 200 and "gateway_requests_total" in good.text
