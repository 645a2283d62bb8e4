"""The pipeline's upstream → respond → settle stages on their own: a fake exchange and adapter, the real Limiter
on Redis (admission and settlement are Lua), the real Settler and an in-memory ledger."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.responses import Response

from gateway.alerts import AlertNotifier
from gateway.apis.adapter import Answer
from gateway.apis.chat import ChatCompletionsApi
from gateway.auth.principal import Principal
from gateway.background import BackgroundTasks
from gateway.cache.stage import CacheStage
from gateway.cache.store import MemoryCacheStore
from gateway.catalogue import ModelPrice
from gateway.errors import GatewayError, UpstreamError
from gateway.estimate import CostEstimate
from gateway.front import Routed
from gateway.limits import RedisLimiterBackend
from gateway.limits.limiter import Limiter
from gateway.metering.ledger import MemoryLedger
from gateway.metering.record import LedgerRecord
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline
from gateway.policy.store import PolicyStore
from gateway.resilience.memory_breaker import MemoryBreakerStore
from gateway.resilience.outcome import Attempt, Outcome
from gateway.settlement import Call, Served, Settler
from gateway.streaming.drain import StreamDrain
from gateway.upstream.account_alarm import AccountAlarm
from gateway.upstream.plan import Payloads, Plan, Resilience

ORG = "acme"
MODEL = "openai/gpt-4o-mini"
ESTIMATE = CostEstimate(prompt_tokens=10, completion_tokens=100, price=ModelPrice(1e-6, 2e-6))
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.00002}


class FakeExchange:
    """Stands in for `UpstreamExchange`: returns or raises what the test scripted, records nothing upstream."""

    def __init__(self, results: list[Outcome[Any] | GatewayError] | None = None,
                 stream_error: GatewayError | None = None) -> None:
        self.results = results or []
        self.stream_error = stream_error

    async def complete_many(self, path: str, copies: Sequence[Payloads], plan: Plan,
                            read: Callable[[httpx.Response], Any]) -> list[Outcome[Any] | GatewayError]:
        return self.results

    async def open_streams(self, path: str, copies: Sequence[Payloads], plan: Plan) -> list[Outcome[Any]]:
        if self.stream_error is not None:
            raise self.stream_error
        await asyncio.sleep(10)  # a test cancels here
        raise AssertionError("not reached")


@dataclass
class Rig:
    limiter: Limiter
    backend: RedisLimiterBackend
    ledger: MemoryLedger
    background: BackgroundTasks
    routed: Routed

    def pipeline(self, exchange: FakeExchange) -> Pipeline:
        settler = Settler(self.limiter, self.ledger, Metrics(), self.background)
        return Pipeline(None, CacheStage(MemoryCacheStore(), None, settler),  # type: ignore[arg-type]
                        Resilience(MemoryBreakerStore()), exchange, settler, StreamDrain(),
                        AccountAlarm(Metrics()))  # type: ignore[arg-type]

    async def admit(self, body: Mapping[str, Any]) -> Call:
        ticket = await self.limiter.admit(self.routed.principal, self.routed.org, ESTIMATE, 1)
        record = LedgerRecord.start(request_id=os.urandom(8).hex(), org=ORG, subject="unit", task=None,
                                    model_requested=MODEL, model_routed=MODEL, body=body)
        return Call(route=self.routed.route, ticket=ticket, record=record, log_fields={}, endpoint="chat.completions")

    async def settled(self) -> LedgerRecord:
        await self.background.drain(2.0)
        [record] = await self.ledger.read(org=ORG, since=None, limit=10)
        return record


@pytest.fixture
async def rig(redis_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f"orgs:\n  {ORG}:\n    daily_budget_usd: 10\n")
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    backend = RedisLimiterBackend(client)
    metrics = Metrics()
    async with httpx.AsyncClient() as http:
        limiter = Limiter(backend, AlertNotifier(http, None, metrics), metrics, reservation_ttl_s=60)
        policy = PolicyStore(policy_file).current
        routed = Routed(Principal(ORG, "unit", frozenset()), policy, policy.resolve(MODEL, ORG), None,
                        policy.org_settings(ORG))
        yield Rig(limiter, backend, MemoryLedger(), BackgroundTasks(), routed)
    await client.aclose()


def _failed(status: int = 503) -> GatewayError:
    error = UpstreamError("down", status=status)
    error.attempts = (Attempt(MODEL, status, "upstream_error", 0.01), Attempt(MODEL, status, "upstream_error", 0.01))
    return error


def _answered() -> Outcome[Answer]:
    answer = Answer(b"{}", {}, USAGE, Served(MODEL, "OpenAI", "gen-1"))
    return Outcome(answer, (Attempt(MODEL, 200, None, 0.01),), 0, 0, MODEL)


async def _forward(rig: Rig, exchange: FakeExchange, body: dict[str, Any]) -> tuple[Response | None, Exception | None]:
    call = await rig.admit(body)
    assert (await rig.backend.spend(ORG)).reservations == 1
    try:
        response = await rig.pipeline(exchange)._forward(ChatCompletionsApi(max_n=8), rig.routed, body, call, ESTIMATE)
    except GatewayError as exc:
        return None, exc
    return response, None


async def test_a_failed_call_is_settled_with_its_attempts_and_its_reservation_released(rig: Rig) -> None:
    failure = _failed()
    _, raised = await _forward(rig, FakeExchange([failure]), {"model": MODEL, "messages": []})
    assert raised is failure
    record = await rig.settled()
    assert (record.status, record.error_type, record.retries, record.cost_usd) == (503, "api_error", 1, 0.0)
    summary = await rig.backend.spend(ORG)
    assert (summary.reservations, summary.reserved_usd, summary.daily_usd) == (0, 0.0, 0.0)


async def test_a_partly_failed_fan_out_bills_what_the_answered_copies_cost(rig: Rig) -> None:
    _, raised = await _forward(rig, FakeExchange([_answered(), _failed(504)]), {"model": MODEL, "n": 2})
    assert isinstance(raised, UpstreamError)
    record = await rig.settled()
    assert (record.status, record.cost_usd, record.prompt_tokens) == (504, USAGE["cost"], 10)
    assert record.retries == 1  # the failed copy's two attempts; the answered copy's one is its own history
    summary = await rig.backend.spend(ORG)
    assert summary.reservations == 0 and summary.daily_usd == pytest.approx(USAGE["cost"])


async def test_a_stream_that_fails_to_open_is_settled_with_its_attempts(rig: Rig) -> None:
    failure = _failed()
    _, raised = await _forward(rig, FakeExchange(stream_error=failure), {"model": MODEL, "stream": True})
    assert raised is failure
    record = await rig.settled()
    assert (record.status, record.retries) == (503, 1)
    assert (await rig.backend.spend(ORG)).reservations == 0


async def test_a_cancelled_call_is_still_settled(rig: Rig) -> None:
    call = await rig.admit({"model": MODEL, "stream": True})
    task = asyncio.ensure_future(rig.pipeline(FakeExchange())._forward(
        ChatCompletionsApi(max_n=8), rig.routed, {"model": MODEL, "stream": True}, call, ESTIMATE))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await rig.settled()
    assert record.cancelled is True and record.status == 499
    assert (await rig.backend.spend(ORG)).reservations == 0


async def test_an_answer_is_settled_before_its_headers_state_the_cost(rig: Rig) -> None:
    response, raised = await _forward(rig, FakeExchange([_answered()]), {"model": MODEL, "messages": []})
    assert raised is None and response is not None
    assert response.headers["x-gateway-cost-usd"] == "0.00002"
    assert response.headers["x-generation-id"] == "gen-1"
    record = await rig.settled()
    assert (record.status, record.cost_usd, record.model_served, record.generation_id) == (
        200, USAGE["cost"], MODEL, "gen-1")
