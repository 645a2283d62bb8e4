"""Bounded fuzzing of the model endpoints with bodies drawn from OpenAI's OpenAPI spec, through a real gateway.

Every body, whether it follows the spec or has one value anywhere replaced with arbitrary JSON, must be answered
without a 500, and every error must be OpenAI's envelope. Deterministic (derandomised, fixed example counts) so CI
sees the same few hundred cases on every run, within about a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Sim
from tests.openapi_schema import spec
from tests.openapi_strategies import ANY_JSON, from_schema, mutated

MODELS = st.sampled_from(["openai/gpt-4o-mini", "fast", "planner", "openai/text-embedding-3-small", "no/such-model"])
SMALL_COUNTS = st.one_of(st.none(), st.integers(-2, 8), ANY_JSON)  # token limits: never a long simulated answer
ENDPOINTS = {
    "/chat/completions": ("CreateChatCompletionRequest", ("max_tokens", "max_completion_tokens", "n")),
    "/embeddings": ("CreateEmbeddingRequest", ()),
    "/responses": ("CreateResponse", ("max_output_tokens",)),
}
FUZZ = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _bodies(schema_name: str, bounded: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    schema = {"$ref": f"#/components/schemas/{schema_name}"}

    @st.composite
    def body(draw: st.DrawFn) -> dict[str, Any]:
        drawn = draw(from_schema(schema))
        drawn = drawn if isinstance(drawn, dict) else {"input": drawn}
        drawn["model"] = draw(MODELS)
        for name in bounded:
            if name in drawn:
                drawn[name] = draw(SMALL_COUNTS)
        if draw(st.integers(0, 3)):  # mostly JSON answers, a quarter streams (when the schema drew `stream`)
            drawn.pop("stream", None)
        return drawn

    return st.one_of(body(), mutated(body()))


def _assert_clean(response: httpx.Response, body: dict[str, Any]) -> None:
    assert response.status_code != 500, (body, response.text[:500])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"], (body, error)
        assert isinstance(error["type"], str) and "param" in error and "code" in error, (body, error)


@pytest.fixture
def fuzz_client(client: httpx.Client, sim: Sim) -> Iterator[httpx.Client]:
    spec()  # load the spec before the first example, not inside its time
    yield client


# Found by this test: `"role": {}` (or `[]`) in a message raises `TypeError: unhashable type` in validation.py, a
# 500. The request-path refactor fixes it; strict, so this marker fails loudly (XPASS) once the fix is merged and must
# then be removed.
KNOWN_500 = pytest.mark.xfail(strict=True, raises=AssertionError,
                              reason="messages[].role of {} or [] is a 500 until validation.py is fixed")


@pytest.mark.parametrize("path", [pytest.param("/chat/completions", marks=KNOWN_500), "/embeddings", "/responses"])
def test_no_body_from_the_spec_or_near_it_gets_a_500(fuzz_client: httpx.Client, path: str) -> None:
    schema_name, bounded = ENDPOINTS[path]

    @FUZZ
    @given(body=_bodies(schema_name, bounded))
    def check(body: dict[str, Any]) -> None:
        _assert_clean(fuzz_client.post(path, json=body), body)

    check()
