"""Retries, fallbacks, the breaker and the budget against the OpenRouter simulator over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import orjson
import pytest
import redis.asyncio as aioredis

from gateway.errors import GatewayError, RateLimitError, UpstreamClientError
from gateway.policy.schema import BreakerPolicy, RetryPolicy
from gateway.resilience import (
    CIRCUIT_OPEN,
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    RedisBreakerStore,
    ResilientCaller,
    RetryBudget,
    attempts_of,
)
from gateway.upstream.client import UpstreamClient
from gateway.upstream.completions import Completion, read_completion
from tests.resilience.conftest import Sim

PRIMARY, FALLBACK = "openai/gpt-4o", "anthropic/claude-haiku-4.5"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, retry_after_cap_s=5.0, budget_ratio=0.2)
QUIET_BREAKER = BreakerPolicy(min_requests=1_000_000)


def chat(upstream: UpstreamClient, **extra: object) -> Callable[[str], Awaitable[Completion]]:
    """The attempt the proxy would make: a non-streaming chat completion for `model`, read in full."""

    async def attempt(model: str) -> Completion:
        body = {"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, **extra}
        return read_completion(await upstream.post("/chat/completions", orjson.dumps(body), stream=False))

    return attempt


def caller(
    retry: RetryPolicy = RETRY, breaker: BreakerPolicy = QUIET_BREAKER, store: BreakerStore | None = None,
    budget: RetryBudget | None = None,
) -> ResilientCaller:
    return ResilientCaller(
        retry, CircuitBreaker(store or MemoryBreakerStore(), breaker), budget or RetryBudget(retry.budget_ratio)
    )


async def test_a_failing_primary_is_answered_by_the_fallback(sim: Sim, upstream: UpstreamClient) -> None:
    sim.fault(model=PRIMARY, error=503, count=10)
    outcome = await caller().call([PRIMARY, FALLBACK], chat(upstream), deadline_s=10.0)
    assert outcome.model_used == FALLBACK
    assert outcome.value.parsed["model"].startswith("anthropic/")
    assert [(a.model, a.status) for a in outcome.attempts] == [(PRIMARY, 503)] * 3 + [(FALLBACK, 200)]
    assert (outcome.retries, outcome.fallbacks) == (2, 1)
    assert sim.requests_by_model() == {PRIMARY: 3, FALLBACK: 1}


async def test_retry_after_on_a_429_is_waited_for_then_the_retry_succeeds(sim: Sim, upstream: UpstreamClient) -> None:
    sim.fault(model=PRIMARY, error=429, count=1, retry_after=1)
    started = time.monotonic()
    outcome = await caller().call([PRIMARY], chat(upstream), deadline_s=10.0)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9
    assert outcome.model_used == PRIMARY and outcome.retries == 1
    assert outcome.attempts[0].status == 429 and outcome.attempts[0].retry_after_s == 1.0
    assert sim.requests_by_model() == {PRIMARY: 2}


async def test_a_429_asking_for_more_than_the_cap_is_returned_at_once(sim: Sim, upstream: UpstreamClient) -> None:
    sim.fault(model=PRIMARY, error=429, count=1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await caller().call([PRIMARY], chat(upstream), deadline_s=10.0)
    assert time.monotonic() - started < 1.0
    assert caught.value.headers["retry-after"] == "30"
    assert sim.requests_by_model() == {PRIMARY: 1}


@pytest.mark.parametrize("status", (400, 403, 404, 413, 422))
async def test_client_errors_are_sent_exactly_once(sim: Sim, upstream: UpstreamClient, status: int) -> None:
    sim.fault(model=PRIMARY, error=status, count=5)
    with pytest.raises(GatewayError) as caught:
        await caller().call([PRIMARY, FALLBACK], chat(upstream), deadline_s=10.0)
    assert caught.value.status == status
    assert len(attempts_of(caught.value)) == 1
    assert sim.requests_by_model() == {PRIMARY: 1}


async def test_a_400_from_the_per_request_fault_is_passed_through(sim: Sim, upstream: UpstreamClient) -> None:
    with pytest.raises(UpstreamClientError):
        await caller().call([PRIMARY], chat(upstream, sim={"error": 400}), deadline_s=10.0)
    assert sim.requests_by_model() == {PRIMARY: 1}


@pytest.mark.parametrize("status", (401, 402))
async def test_the_gateways_refused_account_is_sent_once(sim: Sim, upstream: UpstreamClient, status: int) -> None:
    sim.fault(model=PRIMARY, error=status, count=5)
    with pytest.raises(GatewayError) as caught:
        await caller().call([PRIMARY, FALLBACK], chat(upstream), deadline_s=10.0)
    assert caught.value.status == 502
    assert sim.requests_by_model() == {PRIMARY: 1}


async def test_a_circuit_opened_by_one_replica_is_open_for_the_other_then_half_opens(
    sim: Sim, upstream: UpstreamClient, redis_client: aioredis.Redis, second_redis: aioredis.Redis
) -> None:
    policy = BreakerPolicy(window_s=30.0, min_requests=3, failure_rate=0.5, cooldown_s=1.0, half_open_probes=1)
    no_retries = RETRY.model_copy(update={"max_attempts": 1})
    replica_a = caller(no_retries, policy, RedisBreakerStore(redis_client))
    replica_b = caller(no_retries, policy, RedisBreakerStore(second_redis))
    sim.fault(model=PRIMARY, error=502, count=None)
    for _ in range(3):
        with pytest.raises(GatewayError):
            await replica_a.call([PRIMARY], chat(upstream), deadline_s=10.0)
    assert sim.requests_by_model() == {PRIMARY: 3}

    outcome = await replica_b.call([PRIMARY, FALLBACK], chat(upstream), deadline_s=10.0)
    assert outcome.model_used == FALLBACK and outcome.attempts[0].error == CIRCUIT_OPEN
    assert sim.requests_by_model() == {PRIMARY: 3, FALLBACK: 1}  # replica B never sent to the open model
    assert (await replica_b.breaker.states())[PRIMARY] == OPEN

    sim.clear_faults()
    await asyncio.sleep(1.05)
    assert (await replica_a.breaker.states())[PRIMARY] == HALF_OPEN
    probe = await replica_b.call([PRIMARY], chat(upstream), deadline_s=10.0)
    assert probe.model_used == PRIMARY
    assert await replica_a.breaker.states() == {PRIMARY: CLOSED}


async def test_the_retry_budget_caps_a_storm_against_a_dead_upstream(sim: Sim, upstream: UpstreamClient) -> None:
    retry = RETRY.model_copy(update={"max_attempts": 4, "base_delay_s": 0.0, "budget_ratio": 0.1})
    storm = caller(retry, budget=RetryBudget(0.1, minimum=5))
    sim.fault(model="*", error=503, count=None)
    attempt = chat(upstream)
    requests = 300
    for _ in range(requests // 50):
        results = await asyncio.gather(
            *(storm.call([PRIMARY], attempt, deadline_s=10.0) for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(result, GatewayError) and result.status == 503 for result in results)
    sent = sim.requests_by_model()[PRIMARY]
    # Without the budget: 4 x 300 = 1200 upstream requests.
    assert requests < sent <= requests + 0.1 * requests + 5
