"""CORS over real sockets, with exactly the requests a browser sends: a preflight, then the request itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.cors import CorsPolicy, OriginMatcher
from tests.e2e.conftest import Sim, gateway_settings
from tests.servers import ServerThread, serve

BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
# What Chrome sends before the OpenAI JS SDK's first POST (its x-stainless-* headers are not safelisted).
PREFLIGHT = {
    "origin": "https://app.example.com",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type,x-stainless-os",
}


@pytest.fixture
def cors_gateway(sim: Sim) -> Iterator[ServerThread]:
    settings = gateway_settings(sim.base_url, redis_url=None,
                                cors_allow_origins=["https://*.example.com", "http://localhost:5173"])
    with serve(create_app(settings)) as server:
        yield server


def test_preflight_is_answered_before_auth(cors_gateway: ServerThread) -> None:
    answer = httpx.options(f"{cors_gateway.url}/v1/chat/completions", headers=PREFLIGHT)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-headers"] == "authorization,content-type,x-stainless-os"
    assert answer.headers["access-control-max-age"] == "600"
    assert answer.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in answer.headers


def test_actual_request_carries_cors_headers(cors_gateway: ServerThread, token: str) -> None:
    headers = {"origin": "http://localhost:5173", "authorization": f"Bearer {token}"}
    answer = httpx.post(f"{cors_gateway.url}/v1/chat/completions", json=BODY, headers=headers, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
    exposed = {name.strip() for name in answer.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "x-ratelimit-remaining-requests", "x-gateway-model-served", "retry-after"} <= exposed
    # A gateway-made error is readable by the page too, so it can tell the user why.
    refused = httpx.post(f"{cors_gateway.url}/v1/chat/completions", json=BODY,
                         headers={"origin": "https://app.example.com"}, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://app.example.com"
    assert refused.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("origin", ["https://example.com", "https://evil-example.com", "http://app.example.com",
                                    "https://app.example.com.evil.org", "http://localhost:5174"])
def test_other_origins_get_no_cors_headers(cors_gateway: ServerThread, token: str, origin: str) -> None:
    preflight = httpx.options(f"{cors_gateway.url}/v1/chat/completions", headers={**PREFLIGHT, "origin": origin})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["error"]["type"] == "permission_error"
    answer = httpx.post(f"{cors_gateway.url}/v1/chat/completions", json=BODY, timeout=10,
                        headers={"origin": origin, "authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_credentials_echo_the_origin_and_never_star(sim: Sim) -> None:
    settings = gateway_settings(sim.base_url, redis_url=None, cors_allow_origins=["https://app.example.com"],
                                cors_allow_credentials=True, cors_allow_headers=["authorization", "content-type"])
    with serve(create_app(settings)) as server:
        answer = httpx.options(f"{server.url}/v1/models", headers={**PREFLIGHT, "access-control-request-method": "GET",
                                                                    "access-control-request-headers": "authorization"})
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert answer.headers["access-control-allow-headers"] == "authorization, content-type"
        odd = httpx.options(f"{server.url}/v1/models", headers=PREFLIGHT)  # asks for x-stainless-os
        assert odd.status_code == 403 and "x-stainless-os" in odd.json()["error"]["message"]
    with pytest.raises(ValueError, match="credentials"):
        create_app(gateway_settings(sim.base_url, cors_allow_origins=["*"], cors_allow_credentials=True))


def test_star_without_credentials_answers_star(sim: Sim) -> None:
    with serve(create_app(gateway_settings(sim.base_url, redis_url=None, cors_allow_origins=["*"]))) as server:
        answer = httpx.options(f"{server.url}/v1/chat/completions", headers={**PREFLIGHT, "origin": "https://x.io"})
        assert answer.status_code == 204 and answer.headers["access-control-allow-origin"] == "*"


def test_cors_is_off_by_default(gateway_url: str) -> None:
    answer = httpx.options(f"{gateway_url}/chat/completions", headers=PREFLIGHT)
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers


def test_origin_patterns() -> None:
    matcher = OriginMatcher(["https://*.example.com", "https://exact.org:8443/"])
    assert matcher.allows("https://a.example.com") and matcher.allows("https://a.b.example.com")
    assert matcher.allows("HTTPS://A.EXAMPLE.COM") and matcher.allows("https://exact.org:8443")
    assert not matcher.allows("https://.example.com") and not matcher.allows("https://a/b.example.com")
    assert not matcher.allows("https://exact.org")
    with pytest.raises(ValueError):
        OriginMatcher(["https://app*.example.com"])
    with pytest.raises(ValueError):
        CorsPolicy(allow_origins=("*",), allow_credentials=True)
