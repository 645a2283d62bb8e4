"""Embeddings (`POST /v1/embeddings`) through the gateway, and the ledger of Responses + embeddings traffic
against what the simulator billed."""

from __future__ import annotations

import asyncio
import base64
import math
import socket
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metering.record import LedgerRecord
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.metering.traffic import wait_for
from tests.openapi_schema import validate
from tests.servers import ServerThread, serve

SMALL = "openai/text-embedding-3-small"
EMBEDDING_MODELS = {SMALL: 1536, "openai/text-embedding-3-large": 3072, "qwen/qwen3-embedding-8b": 4096}
CHAT_MODEL = "openai/gpt-4o-mini"
ORG = "initech"


@pytest.fixture
def sdk(gateway_url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)


def _upstream(sim: Sim, path: str = "/embeddings") -> list[dict[str, Any]]:
    return [r for r in sim.requests(limit=200) if r["path"].endswith(path)]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(value * value for value in vector))


def test_string_and_list_float_and_base64(sdk: openai.OpenAI, sim: Sim) -> None:
    inputs: list[str | list[str]] = ["The food was delicious", ["first document", "second document", "third"]]
    for value in inputs:
        default = sdk.embeddings.create(model=SMALL, input=value)  # the SDK asks for base64 and decodes it
        floats = sdk.embeddings.create(model=SMALL, input=value, encoding_format="float")
        count = 1 if isinstance(value, str) else len(value)
        for result in (default, floats):
            assert result.object == "list"
            assert result.model == SMALL
            assert [item.index for item in result.data] == list(range(count))
            assert all(len(item.embedding) == EMBEDDING_MODELS[SMALL] for item in result.data)
            assert result.usage.prompt_tokens > 0 and result.usage.total_tokens == result.usage.prompt_tokens
        for decoded, plain in zip(default.data, floats.data, strict=True):
            assert decoded.embedding == pytest.approx(plain.embedding, abs=1e-7)
            assert _norm(plain.embedding) == pytest.approx(1.0, abs=1e-5)
        if count > 1:
            assert floats.data[0].embedding != floats.data[1].embedding
    encodings = [r["body"].get("encoding_format") for r in _upstream(sim)]
    assert encodings == ["base64", "float", "base64", "float"]


def test_base64_is_little_endian_float32_of_the_same_vector(client: httpx.Client) -> None:
    body = {"model": SMALL, "input": "pack me", "dimensions": 8}
    plain = client.post("/embeddings", json={**body, "encoding_format": "float"})
    packed = client.post("/embeddings", json={**body, "encoding_format": "base64"})
    assert plain.status_code == packed.status_code == 200
    vector = plain.json()["data"][0]["embedding"]
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert len(vector) == 8 and len(raw) == 8 * 4
    assert list(struct.unpack("<8f", raw)) == pytest.approx(vector, abs=1e-7)


def test_response_validates_and_costs_are_reported(sdk: openai.OpenAI, sim: Sim) -> None:
    raw = sdk.embeddings.with_raw_response.create(model=SMALL, input=["a", "b"], encoding_format="float")
    assert raw.status_code == 200
    cost = float(raw.headers["x-gateway-cost-usd"])
    assert cost > 0
    assert raw.headers["x-gateway-model-served"] == SMALL
    assert raw.headers["x-gateway-model-routed"] == SMALL
    body = orjson.loads(raw.http_response.content)
    validate("CreateEmbeddingResponse", body)
    assert body["usage"]["cost"] == pytest.approx(cost, abs=1e-10)
    assert sim.stats()["billed_usd_total"] == pytest.approx(cost, abs=1e-10)


def test_non_embedding_model_is_the_upstreams_400(sdk: openai.OpenAI, sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model=CHAT_MODEL, input="hello")
    assert caught.value.status_code == 400
    assert caught.value.type == "invalid_request_error"
    assert "embedding" in caught.value.message
    assert [r["status"] for r in _upstream(sim)] == [400]  # passed through, not retried
    assert sim.stats()["billed_usd_total"] == 0


@pytest.mark.parametrize(
    "extra",
    [{}, {"input": None}, {"input": ""}, {"input": []}, {"input": [""]}, {"input": [[]]}, {"input": {"text": "x"}},
     {"input": [1, 2, True]}, {"input": 42}, {"input": [1, "mixed"]}],
    ids=["missing", "null", "empty-string", "empty-list", "empty-item", "empty-tokens", "object", "bool", "number",
         "tokens-and-string"],
)
def test_bad_input_is_400_from_the_gateway(client: httpx.Client, sim: Sim, extra: dict[str, Any]) -> None:
    response = client.post("/embeddings", json={"model": SMALL, **extra})
    assert response.status_code == 400, response.text
    assert _upstream(sim) == [], "invalid input was sent upstream instead of being refused by the gateway"
    assert sim.stats()["requests_total"] == 0
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "input"


def test_missing_model_and_bad_token(gateway_url: str, client: httpx.Client, sim: Sim) -> None:
    response = client.post("/embeddings", json={"input": "hello"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"
    bad = openai.OpenAI(base_url=gateway_url, api_key="not-a-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model=SMALL, input="hello")
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=gateway_url, api_key=client.headers["authorization"].removeprefix("Bearer "),
                      max_retries=0).embeddings.create(model="openai/no-such-embedding", input="hello")
    assert _upstream(sim) == []


def test_models_list_has_the_embedding_models(sdk: openai.OpenAI) -> None:
    listed = {model.id for model in sdk.models.list()}
    assert set(EMBEDDING_MODELS) <= listed
    assert CHAT_MODEL in listed
    assert sdk.models.retrieve(SMALL).id == SMALL


# ---------------------------------------------------------------------------------------------------------------
# Ledger vs the simulator's bill, for Responses and embeddings traffic of one org.


@pytest.fixture
def metered(sim: Sim) -> Iterator[tuple[ServerThread, Starlette]]:
    app = create_app(gateway_settings(sim.base_url))
    with serve(app) as server:
        yield server, app


def _ledger(app: Starlette) -> list[LedgerRecord]:
    return list(asyncio.run(app.state.ledger.read(org=None, since=None, limit=10_000)))


def _settled(app: Starlette, count: int) -> list[LedgerRecord]:
    wait_for(lambda: app.state.background.pending == 0 and len(_ledger(app)) >= count, f"{count} ledger records",
             timeout_s=10)
    records = _ledger(app)
    assert len(records) == count
    return records


def _cut_responses_stream(gateway_url: str, token: str, body: dict[str, Any], deltas: int = 3) -> None:
    """Open a Responses stream over a raw socket, read a few text deltas, hang up."""
    host, port = gateway_url.removeprefix("http://").removesuffix("/v1").split(":")
    payload = orjson.dumps({**body, "stream": True})
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        received = b""
        while received.count(b"response.output_text.delta") < deltas:
            chunk = sock.recv(65536)
            assert chunk, f"the gateway closed the stream early: {received[:500]!r}"
            received += chunk


def _wait_for_sim(sim: Sim) -> float:
    wait_for(lambda: sim.stats()["in_flight"] == 0, "the simulator to finish")
    return float(sim.stats()["billed_usd_total"])


def test_ledger_equals_the_simulators_bill(metered: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, app = metered
    token = mint_token(JWT_SECRET, org=ORG, subject="bob", roles=["user"])
    gateway = f"{server.url}/v1"
    sdk = openai.OpenAI(base_url=gateway, api_key=token, max_retries=0)
    slow = {"sim": {"inter_token_ms": 20, "completion_tokens": 200}}

    assert sdk.responses.create(model=CHAT_MODEL, input="Ledger me, JSON").status == "completed"
    assert sdk.responses.create(model="planner", input="Ledger me, routed").status == "completed"
    events = list(sdk.responses.create(model=CHAT_MODEL, input="Ledger me, streamed", stream=True))
    assert events[-1].type == "response.completed"
    with sdk.responses.stream(model="anthropic/claude-sonnet-4.5", input="Ledger me, helper") as stream:
        assert stream.get_final_response().status == "completed"
    # Cut by the client: a provider that stops billing, and one that bills the whole planned answer.
    for model in ("openai/gpt-4o", "google/gemini-2.5-flash"):
        _cut_responses_stream(gateway, token, {"model": model, "input": f"A long story from {model}", **slow})
    sdk.embeddings.create(model=SMALL, input="Ledger me, embedded")
    sdk.embeddings.create(model="openai/text-embedding-3-large", input=["one", "two", "three"],
                          encoding_format="float")
    responses_calls, embedding_calls = 6, 2

    records = _settled(app, responses_calls + embedding_calls)
    billed = _wait_for_sim(sim)
    assert billed > 0
    assert sum(r.cost_usd for r in records) == pytest.approx(billed, abs=1e-9)
    assert {r.org for r in records} == {ORG}

    by_generation = {r["generation_id"]: r for r in sim.requests(limit=200) if r.get("generation_id")}
    for record in records:
        assert record.status == 200, record
        assert record.model_served, record
        assert record.prompt_tokens > 0, record
        assert record.cost_usd > 0, record
        assert record.generation_id in by_generation, record
        assert record.cost_usd == pytest.approx(by_generation[record.generation_id]["cost"], abs=1e-12), record
        if record.model_served in EMBEDDING_MODELS:
            assert record.completion_tokens == 0, record
        else:
            assert record.completion_tokens > 0, record
    cut = [r for r in records if r.cancelled]
    assert len(cut) == 2 and all(r.cost_source == "generation" for r in cut)
    assert all(by_generation[r.generation_id]["cancelled"] is True for r in cut)
    assert {r.cost_source for r in records if not r.cancelled} == {"usage"}
    assert {r.model_served for r in records if r.model_routed == "openai/gpt-4o" and r.task == "planner"} == {
        "openai/gpt-4o"
    }


def test_failed_and_refused_calls_cost_what_was_billed(metered: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, app = metered
    token = mint_token(JWT_SECRET, org=ORG, subject="bob", roles=["user"])
    with httpx.Client(base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
        failed = {"model": CHAT_MODEL, "input": "Fail me midway", "stream": True,
                  "sim": {"error": "mid_stream", "error_after_tokens": 2}}
        assert http.post("/responses", json=failed).status_code == 200
        assert http.post("/responses", json={"model": CHAT_MODEL, "input": "x", "sim": {"error": 503}}).status_code \
            == 503
        assert http.post("/embeddings", json={"model": CHAT_MODEL, "input": "not an embedder"}).status_code == 400
        assert http.post("/embeddings", json={"model": SMALL, "input": "y", "sim": {"error": 503}}).status_code == 503
    records = _settled(app, 4)
    billed = _wait_for_sim(sim)
    assert sum(r.cost_usd for r in records) == pytest.approx(billed, abs=1e-9)
    assert sorted(r.status for r in records) == [200, 400, 503, 503]
    [stream] = [r for r in records if r.status == 200]
    assert stream.error_type == "api_error"
    assert not any(r.cost_usd for r in records if r.status >= 400)
