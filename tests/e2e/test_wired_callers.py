"""The callers' hooks wired into the pipeline, through a real gateway on a real Redis and the simulator on real
sockets: totals by tag from real settled calls, the caller's `traceparent` on the exported span, and an API key
made over the admin API used, shown and revoked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.e2e.keys_support import flushed
from tests.metering.otlp_collector import Collector, attributes
from tests.servers import ServerThread, serve

SOLO = "openai/gpt-4o-mini"
POLICY = """
orgs:
  acme: {rpm: 10000, tpm: 10000000}
totals:
  tags: [run_id]
"""
CALLS = 100


@pytest.fixture
def gateway(sim: Sim, redis_url: str, tmp_path: Path) -> Iterator[ServerThread]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = gateway_settings(sim.base_url, policy_file=str(policy), redis_url=flushed(redis_url),
                                spool_dir=str(tmp_path / "spool"))
    with serve(create_app(settings)) as server:
        yield server


def _bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


def _jwt(roles: tuple[str, ...] = ("user",)) -> str:
    return mint_token(JWT_SECRET, org="acme", subject="alice", roles=list(roles))


async def _tagged_calls(base_url: str) -> list[httpx.Response]:
    headers = {**_bearer(_jwt()), "x-gateway-tags": "run_id=r1"}
    limits = httpx.Limits(max_connections=CALLS)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        return await asyncio.gather(*(
            client.post("/chat/completions", json={"model": SOLO, "max_tokens": 20,
                                                   "messages": [{"role": "user", "content": f"Call {index}"}]})
            for index in range(CALLS)
        ))


def _tag_totals(url: str, credential: str, calls: int, timeout_s: float = 10.0) -> dict:
    """The `tag` totals once `calls` calls are settled (settlement finishes after the replies)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(url, params={"tag": "run_id:r1"}, headers=_bearer(credential), timeout=10)
        assert answer.status_code == 200, answer.text
        totals = answer.json()["tag"]
        if totals["calls"] >= calls or time.monotonic() > deadline:
            return dict(totals)
        time.sleep(0.1)


def test_totals_by_tag_count_every_concurrent_call_at_its_billed_cost(gateway: ServerThread, sim: Sim) -> None:
    answers = asyncio.run(_tagged_calls(f"{gateway.url}/v1"))
    assert [answer.status_code for answer in answers] == [200] * CALLS
    charged = sum(Decimal(answer.headers["x-gateway-cost-usd"]) for answer in answers)
    assert charged > 0

    own = _tag_totals(f"{gateway.url}/v1/usage", _jwt(), CALLS)
    admin = _tag_totals(f"{gateway.url}/admin/orgs/acme/usage", _jwt(("admin",)), CALLS)
    assert own["calls"] == admin["calls"] == CALLS
    assert (own["key"], own["value"]) == ("run_id", "r1")
    assert own["cost_usd"] == pytest.approx(float(charged), abs=1e-9)
    assert own["cost_usd"] == pytest.approx(sim.stats()["billed_usd_total"], abs=1e-9)
    assert admin["cost_usd"] == own["cost_usd"] and admin["tokens"] == own["tokens"] > 0
    untagged = httpx.get(f"{gateway.url}/v1/usage", params={"tag": "run_id:r2"}, headers=_bearer(_jwt()), timeout=10)
    assert untagged.json()["tag"]["calls"] == 0


async def _streamed_and_metadata_calls(base_url: str, count: int) -> list[str]:
    """`count` streamed calls tagged by header and `count` JSON calls tagged by `metadata`; the streams' bodies."""
    body = {"model": SOLO, "max_tokens": 20, "messages": [{"role": "user", "content": "Tag me"}]}
    async with httpx.AsyncClient(base_url=base_url, headers=_bearer(_jwt()), timeout=60) as client:
        async def streamed() -> str:
            async with client.stream("POST", "/chat/completions", json={**body, "stream": True},
                                     headers={"x-gateway-tags": "run_id=r1"}) as answer:
                assert answer.status_code == 200
                return "".join([chunk async for chunk in answer.aiter_text()])

        async def with_metadata() -> str:
            answer = await client.post("/chat/completions", json={**body, "metadata": {"run_id": "r1"}})
            assert answer.status_code == 200
            return ""

        return await asyncio.gather(*(streamed() for _ in range(count)), *(with_metadata() for _ in range(count)))


def test_streamed_calls_and_metadata_tags_count_in_the_totals_too(gateway: ServerThread, sim: Sim) -> None:
    bodies = asyncio.run(_streamed_and_metadata_calls(f"{gateway.url}/v1", 10))
    assert all(body.rstrip().endswith("data: [DONE]") for body in bodies[:10])
    totals = _tag_totals(f"{gateway.url}/v1/usage", _jwt(), 20)
    assert totals["calls"] == 20
    assert totals["cost_usd"] == pytest.approx(sim.stats()["billed_usd_total"], abs=1e-9) and totals["cost_usd"] > 0


def test_a_callers_traceparent_makes_the_gateway_span_its_child(sim: Sim) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    collector = Collector()
    with serve(collector.app()) as otlp:
        settings = gateway_settings(sim.base_url, redis_url=None, otel_endpoint=f"{otlp.url}/v1/traces")
        with serve(create_app(settings)) as server:
            headers = {**_bearer(_jwt()), "traceparent": f"00-{trace_id}-{parent_id}-01",
                       "x-gateway-tags": "session_id=s-7"}
            joined = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30,
                                json={"model": SOLO, "messages": [{"role": "user", "content": "Nest me"}]})
            streamed = httpx.post(f"{server.url}/v1/chat/completions", timeout=30,
                                  headers={**headers, "traceparent": f"00-{trace_id}-{'1' * 16}-01"},
                                  json={"model": SOLO, "stream": True,
                                        "messages": [{"role": "user", "content": "Nest me too"}]})
            alone = httpx.post(f"{server.url}/v1/chat/completions", headers=_bearer(_jwt()), timeout=30,
                               json={"model": SOLO, "messages": [{"role": "user", "content": "On my own"}]})
        # The gateway has stopped: its lifespan flushed the spans before the collector goes away.
    assert joined.status_code == alone.status_code == streamed.status_code == 200
    spans = collector.spans()
    assert len(spans) == 3
    children = {span.parent_span_id.hex(): span for span in spans if span.trace_id == bytes.fromhex(trace_id)}
    assert sorted(children) == sorted([parent_id, "1" * 16])
    assert attributes(children[parent_id])["gateway.tag.session_id"] == "s-7"
    assert attributes(children[parent_id])["session.id"] == "s-7"
    [root] = [span for span in spans if span.trace_id != bytes.fromhex(trace_id)]
    assert root.parent_span_id == b""


def test_a_key_made_over_the_admin_api_works_with_the_sdk_shows_on_v1_key_and_dies_on_delete(
    gateway: ServerThread, sim: Sim
) -> None:
    admin = _bearer(_jwt(("admin",)))
    made = httpx.post(f"{gateway.url}/admin/orgs/acme/keys", headers=admin, timeout=10,
                      json={"name": "nightly", "roles": ["user"], "rpm": 50, "daily_usd": 2})
    assert made.status_code == 201, made.text
    created = made.json()

    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=created["key"], max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}],
                                                         max_tokens=10)
    assert raw.parse().choices[0].message.content
    cost = float(raw.headers["x-gateway-cost-usd"])
    assert cost > 0
    assert sim.requests()[-1]["headers"]["authorization"] != f"Bearer {created['key']}"  # never sent upstream

    deadline = time.monotonic() + 10
    while True:  # the key's spend is settled after the reply
        shown = httpx.get(f"{gateway.url}/v1/key", headers=_bearer(created["key"]), timeout=10)
        assert shown.status_code == 200, shown.text
        if shown.json()["data"]["usage"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert shown.json()["data"]["usage"] == pytest.approx(cost, abs=1e-9)
    data = shown.json()["data"]
    assert data["gateway"]["key"] == {"id": created["id"], "name": "nightly", "prefix": created["prefix"]}
    assert data["gateway"]["org"] == "acme" and data["rate_limit"]["requests"] == 50
    assert (data["limit"], data["limit_reset"]) == (2.0, "daily")
    assert created["key"] not in shown.text

    revoked = httpx.delete(f"{gateway.url}/admin/orgs/acme/keys/{created['id']}", headers=admin, timeout=10)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    time.sleep(1.1)  # GATEWAY_API_KEY_CACHE_TTL_S: a looked-up key is trusted for a second
    calls_before = sum(sim.stats()["requests_by_model"].values())
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk.chat.completions.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}], max_tokens=10)
    assert refused.value.status_code == 401 and "revoked" in refused.value.message
    assert httpx.get(f"{gateway.url}/v1/key", headers=_bearer(created["key"]), timeout=10).status_code == 401
    assert sum(sim.stats()["requests_by_model"].values()) == calls_before
