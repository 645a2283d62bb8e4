"""`POST /api/v1/embeddings` and `GET /api/v1/embeddings/models`: vectors, encodings, billing, errors."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import openai
import pytest

from tests.openapi_schema import validate
from tests.sim.conftest import Sim

SMALL = "openai/text-embedding-3-small"
SMALL_PRICE = 0.00000002


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate("CreateEmbeddingResponse", body)
    return body


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_float_vectors_deterministic_unit_norm(sim: Sim) -> None:
    response = sim.embeddings({"model": SMALL, "input": ["The food was delicious", "The waiter was rude"]})
    body = _ok(response)
    assert body["object"] == "list" and body["model"] == SMALL and body["id"].startswith("gen-")
    assert response.headers["x-generation-id"] == body["id"]
    first, second = body["data"]
    assert [first["index"], second["index"]] == [0, 1] and first["object"] == "embedding"
    assert len(first["embedding"]) == len(second["embedding"]) == 1536
    assert _norm(first["embedding"]) == pytest.approx(1, abs=1e-5)
    assert first["embedding"] != second["embedding"]
    again = _ok(sim.embeddings({"model": SMALL, "input": "The waiter was rude"}))
    assert again["data"][0]["embedding"] == second["embedding"] and again["data"][0]["index"] == 0
    other_model = _ok(sim.embeddings({"model": "openai/text-embedding-3-large", "input": "The waiter was rude"}))
    assert len(other_model["data"][0]["embedding"]) == 3072


def test_billing_generation_and_log(sim: Sim) -> None:
    body = _ok(sim.embeddings({"model": SMALL, "input": ["one two three", "four, five"]}))
    usage = body["usage"]
    assert usage["prompt_tokens"] == usage["total_tokens"] == 3 + 3  # "four", ",", " five"
    assert usage["cost"] == pytest.approx(6 * SMALL_PRICE, rel=1e-9) and usage["cost"] > 0
    data = sim.generation(body["id"]).json()["data"]
    assert data["api_type"] == "embeddings" and data["total_cost"] == usage["cost"]
    assert data["native_tokens_prompt"] == 6 and data["native_tokens_completion"] == 0
    assert data["provider_name"] == "OpenAI" and data["streamed"] is False
    assert sim.stats()["billed_usd_total"] == usage["cost"]
    record = sim.requests_log()[-1]
    assert record["path"] == "/api/v1/embeddings" and record["cost"] == usage["cost"]


def test_token_inputs(sim: Sim) -> None:
    single = _ok(sim.embeddings({"model": SMALL, "input": [1, 2, 3, 4]}))
    assert len(single["data"]) == 1 and single["usage"]["prompt_tokens"] == 4
    batch = _ok(sim.embeddings({"model": SMALL, "input": [[1, 2, 3, 4], [5, 6]]}))
    assert len(batch["data"]) == 2 and batch["usage"]["prompt_tokens"] == 6
    assert batch["data"][0]["embedding"] == single["data"][0]["embedding"]


def test_base64_is_little_endian_float32_of_the_floats(sim: Sim) -> None:
    floats = _ok(sim.embeddings({"model": SMALL, "input": "hello"}))["data"][0]["embedding"]
    encoded = sim.embeddings({"model": SMALL, "input": "hello", "encoding_format": "base64"}).json()
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    assert len(raw) == 4 * 1536
    assert list(struct.unpack("<1536f", raw)) == floats


def test_sdk_decodes_base64_to_the_float_vector(sim: Sim) -> None:
    client = openai.OpenAI(base_url=sim.api, api_key="sk-or-test", max_retries=0)
    default = client.embeddings.create(model=SMALL, input=["alpha", "beta"])  # the SDK asks for base64
    assert sim.requests_log()[-1]["body"]["encoding_format"] == "base64"
    as_float = client.embeddings.create(model=SMALL, input=["alpha", "beta"], encoding_format="float")
    assert [d.embedding for d in default.data] == [d.embedding for d in as_float.data]
    assert len(default.data[0].embedding) == 1536 and default.usage.prompt_tokens == 2
    short = client.embeddings.create(model=SMALL, input="alpha", dimensions=64)
    assert len(short.data[0].embedding) == 64


def test_dimensions_shorten_and_renormalise(sim: Sim) -> None:
    full = _ok(sim.embeddings({"model": SMALL, "input": "Kyoto"}))["data"][0]["embedding"]
    short = _ok(sim.embeddings({"model": SMALL, "input": "Kyoto", "dimensions": 256}))["data"][0]["embedding"]
    assert len(short) == 256 and _norm(short) == pytest.approx(1, abs=1e-5)
    scale = _norm(full[:256])
    assert short == pytest.approx([value / scale for value in full[:256]], abs=1e-6)
    too_big = sim.embeddings({"model": SMALL, "input": "Kyoto", "dimensions": 4096})
    assert too_big.status_code == 400 and "dimensions" in too_big.json()["error"]["message"]
    assert len(_ok(sim.embeddings({"model": "qwen/qwen3-embedding-8b", "input": "Kyoto"}))["data"][0][
        "embedding"]) == 4096


@pytest.mark.parametrize("body", [
    {"model": "openai/gpt-4o", "input": "hi"},
    {"model": "openrouter/auto", "input": "hi"},
    {"model": SMALL, "input": ""},
    {"model": SMALL, "input": []},
    {"model": SMALL, "input": [["a"]]},
    {"model": SMALL, "input": "hi", "encoding_format": "int8"},
    {"model": SMALL, "input": "hi", "dimensions": 0},
    {"model": "nope/nothing", "input": "hi"},
])
def test_invalid_requests(sim: Sim, body: dict[str, Any]) -> None:
    response = sim.embeddings(body)
    assert response.status_code == 400 and response.json()["error"]["code"] == 400
    assert sim.stats()["completions_total"] == 0


def test_non_embedding_model_message(sim: Sim) -> None:
    error = sim.embeddings({"model": "openai/gpt-4o", "input": "hi"}).json()["error"]
    assert error["message"].startswith("openai/gpt-4o is not an embedding model")


def test_faults_and_fallback(sim: Sim) -> None:
    limited = sim.embeddings({"model": SMALL, "input": "hi", "sim": {"error": 429, "retry_after": 3}})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    in_200 = sim.embeddings({"model": SMALL, "input": "hi", "sim": {"error": "error_in_200"}})
    assert in_200.status_code == 200 and in_200.json()["error"]["code"] == 502
    fallback = _ok(sim.embeddings({"model": SMALL, "models": ["qwen/qwen3-embedding-8b"], "input": "hi",
                                   "sim": {"error": 503, "fail_models": [SMALL]}}))
    assert fallback["model"] == "qwen/qwen3-embedding-8b" and len(fallback["data"][0]["embedding"]) == 4096
    sim.client.post(f"{sim.base}/_sim/faults", json={"model": SMALL, "error": 502, "count": 1})
    assert sim.embeddings({"model": SMALL, "input": "hi"}).status_code == 502
    assert sim.embeddings({"model": SMALL, "input": "hi"}).status_code == 200
    assert sim.client.post(f"{sim.api}/embeddings", json={"model": SMALL, "input": "hi"}).status_code == 401


def test_embedding_model_listings(sim: Sim) -> None:
    listed = sim.client.get(f"{sim.api}/embeddings/models").json()["data"]
    ids = [model["id"] for model in listed]
    assert ids == ["openai/text-embedding-3-small", "openai/text-embedding-3-large", "qwen/qwen3-embedding-8b"]
    assert all(model["architecture"]["output_modalities"] == ["embeddings"] for model in listed)
    filtered = sim.client.get(f"{sim.api}/models", params={"output_modalities": "embeddings"}).json()["data"]
    assert [model["id"] for model in filtered] == ids
    assert listed[0]["pricing"]["prompt"] == "0.00000002"
    assert "openai/text-embedding-3-large" not in {m["id"] for m in sim.client.get(f"{sim.api}/models").json()["data"]}
