"""The HTTP contract: error envelopes, forwarding rules, request ids, models — nothing forwarded on bad input."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, UPSTREAM_KEY, Sim
from tests.openapi_schema import validate

HELLO = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


def _assert_envelope(response: httpx.Response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == error_type
    return error


@pytest.mark.parametrize(
    ("content", "param", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"model": "openai/gpt-4o"}', "messages", "messages"),
        (b'{"model": "openai/gpt-4o", "messages": []}', "messages", "non-empty"),
        (b'{"model": "openai/gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}', "messages[0].role", "wizard"),
        (b'{"model": "openai/gpt-4o", "messages": [{"role": "tool", "content": "x"}]}',
         "messages[0].tool_call_id", "tool_call_id"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "model"),
        (b'{"model": "no-such-task", "messages": [{"role": "user", "content": "x"}]}', "model", "no-such-task"),
    ],
)
def test_bad_requests_are_400_and_never_forwarded(
    client: httpx.Client, sim: Sim, content: bytes, param: str | None, fragment: str
) -> None:
    response = client.post("/chat/completions", content=content, headers={"content-type": "application/json"})
    error = _assert_envelope(response, 400, "invalid_request_error")
    assert error["param"] == param
    assert fragment in error["message"]
    assert sim.stats()["requests_total"] == 0


def test_body_over_the_limit_is_413(client: httpx.Client, sim: Sim) -> None:
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * 300_000}]}
    _assert_envelope(client.post("/chat/completions", json=big), 413, "invalid_request_error")
    assert sim.stats()["requests_total"] == 0


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt",
     "Bearer " + mint_token("some-other-secret-of-sufficient-length!!", org="acme"),
     "Bearer " + jwt.encode({"sub": "a", "org_id": "acme", "exp": int(time.time()) - 120}, JWT_SECRET, "HS256")],
)
def test_bad_credentials_are_401_before_any_stream(
    gateway_url: str, sim: Sim, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    response = httpx.post(f"{gateway_url}/chat/completions", json={**HELLO, "stream": True}, headers=headers)
    error = _assert_envelope(response, 401, "authentication_error")
    assert error["code"] == "invalid_api_key"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert sim.stats()["requests_total"] == 0
    if authorization and " " in authorization:
        assert authorization.split(" ", 1)[1] not in response.text


def test_token_without_org_is_403(gateway_url: str, sim: Sim) -> None:
    token = mint_token(JWT_SECRET, org="", subject="nobody")
    response = httpx.post(f"{gateway_url}/chat/completions", json=HELLO, headers={"authorization": f"Bearer {token}"})
    _assert_envelope(response, 403, "permission_error")


def test_unknown_model_is_404_without_going_upstream(client: httpx.Client, sim: Sim) -> None:
    response = client.post("/chat/completions", json={**HELLO, "model": "acme/imaginary-1"})
    error = _assert_envelope(response, 404, "invalid_request_error")
    assert error["code"] == "model_not_found"
    assert all(not r["path"].endswith("/chat/completions") for r in sim.requests())


def test_forwarding_uses_the_gateway_key_and_passes_every_field(client: httpx.Client, sim: Sim, token: str) -> None:
    body = {
        **HELLO,
        "models": ["openai/gpt-4o"],
        "provider": {"order": ["openai"], "allow_fallbacks": True},
        "reasoning": {"effort": "low"},
        "plugins": [{"id": "response-healing"}],
        "transforms": ["middle-out"],
        "usage": {"include": True},
        "a_field_nobody_knows_yet": {"nested": [1, 2.5, None]},
    }
    response = client.post(
        "/chat/completions", json=body, headers={"x-custom-client-header": "secret-thing", "cookie": "a=b"}
    )
    assert response.status_code == 200, response.text
    validate("CreateChatCompletionResponse", response.json())
    seen = [r for r in sim.requests() if r["path"].endswith("/chat/completions")][-1]
    assert seen["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert token not in str(seen["headers"])
    assert "x-custom-client-header" not in seen["headers"] and "cookie" not in seen["headers"]
    assert seen["headers"]["http-referer"] and seen["headers"]["x-openrouter-title"] and seen["headers"]["x-title"]
    assert seen["body"] == body


def test_openrouter_prefix_is_stripped_and_variants_kept(client: httpx.Client, sim: Sim) -> None:
    response = client.post("/chat/completions", json={**HELLO, "model": "openrouter/openai/gpt-4o-mini:nitro"})
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-model-routed"] == "openai/gpt-4o-mini:nitro"
    assert sim.requests()[-1]["body"]["model"] == "openai/gpt-4o-mini:nitro"


def test_task_routing_fills_params(client: httpx.Client, sim: Sim) -> None:
    response = client.post("/chat/completions", json={**HELLO, "model": "planner"})
    assert response.status_code == 200
    assert response.headers["x-gateway-task"] == "planner"
    assert response.headers["x-gateway-model-routed"] == "openai/gpt-4o"
    assert sim.requests()[-1]["body"]["temperature"] == 0.2


@pytest.mark.parametrize(
    ("sim_error", "status", "error_type"),
    [
        (400, 400, "invalid_request_error"),
        ("context_length", 400, "invalid_request_error"),
        (401, 502, "api_error"),  # the gateway's own key failed: never the client's 401
        (402, 502, "api_error"),
        ("moderation", 403, "permission_error"),
        (429, 429, "rate_limit_error"),
        (500, 502, "api_error"),
        (502, 502, "api_error"),
        (503, 503, "api_error"),
        (504, 504, "api_error"),
        (524, 504, "api_error"),
        (529, 503, "api_error"),
        ("error_in_200", 502, "api_error"),
        ("partial_200", 502, "api_error"),
    ],
)
def test_upstream_errors_are_translated(
    client: httpx.Client, sim: Sim, sim_error: object, status: int, error_type: str
) -> None:
    response = client.post("/chat/completions", json={**HELLO, "sim": {"error": sim_error}})
    error = _assert_envelope(response, status, error_type)
    assert "user_id" not in response.text and UPSTREAM_KEY not in response.text
    assert error["message"]


def test_request_ids(client: httpx.Client) -> None:
    assert client.get("/models", headers={"x-request-id": "trace-42"}).headers["x-request-id"] == "trace-42"
    generated = client.get("/models", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32
    assert client.get("/no-such-path").headers["x-request-id"]


def test_unknown_path_is_an_openai_404(client: httpx.Client) -> None:
    _assert_envelope(client.get("/no-such-path"), 404, "invalid_request_error")


def test_models_in_openai_shape(client: httpx.Client) -> None:
    listing = client.get("/models").json()
    assert listing["object"] == "list"
    ids = {model["id"] for model in listing["data"]}
    assert {"openai/gpt-4o", "google/gemini-2.5-flash-image"} <= ids
    for model in listing["data"]:
        assert model["object"] == "model" and isinstance(model["created"], int) and model["owned_by"]
        assert "pricing" in model and "context_length" in model
    validate("ListModelsResponse", listing)
    one = client.get("/models/openai/gpt-4o")
    assert one.status_code == 200 and one.json()["id"] == "openai/gpt-4o"
    validate("Model", one.json())
    _assert_envelope(client.get("/models/openai/none-such"), 404, "invalid_request_error")


def test_health(gateway_url: str) -> None:
    root = gateway_url.removesuffix("/v1")
    assert httpx.get(f"{root}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{root}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
