"""`/admin/orgs/{org}/...` over a real socket: auth, own-org only, strict bodies, OpenAI error envelopes."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.admin import AdminRoutes
from gateway.auth import Authenticator, mint_token
from gateway.limits import Budget, RateLimits, RedisLimiterBackend, Settlement
from gateway.middleware import RequestContextMiddleware
from gateway.policy import PolicyStore
from gateway.settings import Settings
from tests.admin.conftest import Cli, record_spend
from tests.servers import serve

SECRET = "admin-routes-test-secret-of-32-bytes-or-more"
Call = Callable[..., httpx.Response]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process Settings read the environment; a developer's GATEWAY_JWT_* must not change these tests."""
    for name in list(os.environ):
        if name.startswith(("GATEWAY_JWT", "GATEWAY_JWKS")):
            monkeypatch.delenv(name)


def admin_app(redis_url: str, policy_file: Path) -> Starlette:
    client = aioredis.Redis.from_url(redis_url)
    authenticator = Authenticator(Settings(jwt_secret=SECRET))
    routes = AdminRoutes(authenticator, RedisLimiterBackend(client), PolicyStore(policy_file))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()  # on the server's own loop, where its connections live

    middleware = [Middleware(RequestContextMiddleware, max_body_bytes=64 * 1024, access_log=False)]
    return Starlette(routes=routes.routes(), middleware=middleware, lifespan=lifespan)


@pytest.fixture
def server_url(clean_redis: str, policy_file: Path) -> Iterator[str]:
    with serve(admin_app(clean_redis, policy_file)) as server:
        yield server.url


def token(org: str = "acme", roles: tuple[str, ...] = ("admin",)) -> str:
    return mint_token(SECRET, org=org, subject="ops@" + org, roles=roles)


@pytest.fixture
def call(server_url: str) -> Iterator[Call]:
    """`call(method, path, token=..., json=...)`; the default token is an admin of acme."""
    with httpx.Client(base_url=server_url, timeout=10) as client:

        def send(method: str, path: str, *, bearer: str | None = "default", **kwargs: Any) -> httpx.Response:
            credential = token() if bearer == "default" else bearer
            headers = {} if credential is None else {"authorization": f"Bearer {credential}"}
            return client.request(method, path, headers=headers, **kwargs)

        yield send


def overrides(redis_url: str, org: str) -> tuple[RateLimits | None, Budget | None]:
    async def read() -> tuple[RateLimits | None, Budget | None]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await RedisLimiterBackend(client).get_overrides(org)
        finally:
            await client.aclose()

    return asyncio.run(read())


def assert_error(response: httpx.Response, status: int, error_type: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == error_type
    assert error["param"] == param
    assert response.headers["x-request-id"]


def test_admin_reads_own_budget(call: Call) -> None:
    response = call("GET", "/admin/orgs/acme/budget")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["org"] == "acme"
    assert body["daily_usd"]["default"] == 10.0 and body["daily_usd"]["override"] is None


def test_put_budget_round_trips_and_reaches_the_limiter(call: Call, clean_redis: str, cli: Cli) -> None:
    put = call("PUT", "/admin/orgs/acme/budget", json={"daily_usd": 5, "monthly_usd": 120.5})
    assert put.status_code == 200, put.text
    assert (put.json()["daily_usd"]["effective"], put.json()["monthly_usd"]["effective"]) == (5.0, 120.5)
    assert overrides(clean_redis, "acme") == (None, Budget(daily_usd=5.0, monthly_usd=120.5))
    # null clears one field; a field left out keeps its override.
    call("PUT", "/admin/orgs/acme/budget", json={"monthly_usd": None})
    assert overrides(clean_redis, "acme") == (None, Budget(daily_usd=5.0))
    got = call("GET", "/admin/orgs/acme/budget").json()
    assert got["monthly_usd"]["override"] is None and got["monthly_usd"]["effective"] == 200.0
    # Same document as the CLI prints.
    assert json.loads(cli("budget", "show", "acme", "--json").stdout) == got


def test_put_limits_round_trips_and_reaches_the_limiter(call: Call, clean_redis: str, cli: Cli) -> None:
    put = call("PUT", "/admin/orgs/acme/limits", json={"rpm": 30, "tpm": None, "max_concurrent": 4})
    assert put.status_code == 200, put.text
    assert overrides(clean_redis, "acme") == (RateLimits(rpm=30, max_concurrent=4), None)
    got = call("GET", "/admin/orgs/acme/limits").json()
    assert got == put.json()
    assert got["rpm"] == {"override": 30, "default": 60, "effective": 30}
    assert got["tpm"] == {"override": None, "default": 50000, "effective": 50000}
    assert json.loads(cli("limits", "show", "acme", "--json").stdout) == got


def test_usage_with_since(call: Call, clean_redis: str) -> None:
    record_spend(clean_redis, [Settlement("r1", "acme", "a", "openai/gpt-4o", 0.75, 10)], past_days={"2020-01-01": 3})
    everything = call("GET", "/admin/orgs/acme/usage").json()
    assert everything["by_model"] == {"openai/gpt-4o": 0.75}
    assert everything["by_day"] == {"2020-01-01": 3.0, everything["day"]: 0.75}
    recent = call("GET", "/admin/orgs/acme/usage", params={"since": "2020-01-02"}).json()
    assert recent["since"] == "2020-01-02"
    assert recent["by_day"] == {recent["day"]: 0.75} and recent["total_usd"] == 0.75
    assert_error(call("GET", "/admin/orgs/acme/usage", params={"since": "yesterday"}), 400, "invalid_request_error",
                 "since")


def test_reset_drops_all_overrides_and_keeps_spend(call: Call, clean_redis: str) -> None:
    call("PUT", "/admin/orgs/acme/budget", json={"daily_usd": 1})
    call("PUT", "/admin/orgs/acme/limits", json={"rpm": 2})
    record_spend(clean_redis, [Settlement("r1", "acme", "a", "m", 0.5, 10)])
    response = call("POST", "/admin/orgs/acme/reset")
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["org", "budget", "limits"]
    assert body["budget"]["daily_usd"]["override"] is None and body["budget"]["daily_usd"]["spent_usd"] == 0.5
    assert body["limits"]["rpm"]["effective"] == 60
    assert overrides(clean_redis, "acme") == (None, None)


ROUTES = [
    ("GET", "/admin/orgs/{org}/budget", None),
    ("PUT", "/admin/orgs/{org}/budget", {"daily_usd": 1}),
    ("GET", "/admin/orgs/{org}/limits", None),
    ("PUT", "/admin/orgs/{org}/limits", {"rpm": 1}),
    ("GET", "/admin/orgs/{org}/usage", None),
    ("POST", "/admin/orgs/{org}/reset", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_needs_an_admin_of_that_org(
    call: Call, clean_redis: str, method: str, path: str, body: dict[str, int] | None
) -> None:
    own, other = path.format(org="acme"), path.format(org="beta")
    assert_error(call(method, own, bearer=None, json=body), 401, "authentication_error")
    assert_error(call(method, own, bearer="not-a-jwt", json=body), 401, "authentication_error")
    assert_error(call(method, own, bearer=token(roles=("viewer",)), json=body), 403, "permission_error")
    assert_error(call(method, other, json=body), 403, "permission_error")
    assert "beta" in call(method, other, json=body).json()["error"]["message"]
    assert call(method, own, json=body).status_code == 200
    # Nothing was written for the org the caller does not administer.
    assert overrides(clean_redis, "beta") == (None, None)


BAD_BODIES = [
    ("budget", {"daily_usd": -1}, "daily_usd"),
    ("budget", {"daily_usd": "5"}, "daily_usd"),
    ("budget", {"monthly_usd": True}, "monthly_usd"),
    ("budget", {"daily_usd": 1, "weekly_usd": 3}, "weekly_usd"),
    ("budget", {}, None),
    ("budget", [1, 2], None),
    ("limits", {"rpm": -5}, "rpm"),
    ("limits", {"rpm": 0}, "rpm"),
    ("limits", {"tpm": 1.5}, "tpm"),
    ("limits", {"max_concurrent": "3"}, "max_concurrent"),
    ("limits", {"burst": 3}, "burst"),
]


@pytest.mark.parametrize(("resource", "body", "param"), BAD_BODIES)
def test_bad_bodies_are_rejected_naming_the_field(
    call: Call, clean_redis: str, resource: str, body: object, param: str | None
) -> None:
    response = call("PUT", f"/admin/orgs/acme/{resource}", json=body)
    assert_error(response, 400, "invalid_request_error", param)
    if param is not None:
        assert param in response.json()["error"]["message"]
    assert overrides(clean_redis, "acme") == (None, None)


def test_malformed_json_is_a_400(call: Call) -> None:
    response = call("PUT", "/admin/orgs/acme/budget", content=b"{daily_usd: 1")
    assert_error(response, 400, "invalid_request_error")
    assert "not valid JSON" in response.json()["error"]["message"]


def test_org_admins_may_tighten_but_not_loosen_the_policy(call: Call, clean_redis: str) -> None:
    # The policy grants acme $10/day, $200/month, 50,000 tpm and (by default) 60 rpm.
    raised = call("PUT", "/admin/orgs/acme/budget", json={"daily_usd": 10.01})
    assert_error(raised, 403, "permission_error", "daily_usd")
    assert_error(call("PUT", "/admin/orgs/acme/limits", json={"rpm": 61}), 403, "permission_error", "rpm")
    assert overrides(clean_redis, "acme") == (None, None)  # nothing was written
    assert call("PUT", "/admin/orgs/acme/budget", json={"daily_usd": 10}).status_code == 200
    assert call("PUT", "/admin/orgs/acme/limits", json={"tpm": 1000, "max_concurrent": 5}).status_code == 200
