"""ResilientCaller with fakes: retries, waits, deadline, budget, fallbacks and the breaker, checked exactly."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import GatewayError, RateLimitError, ServiceUnavailableError, UpstreamAccountError
from gateway.policy.schema import BreakerPolicy, RetryPolicy
from gateway.resilience import (
    CIRCUIT_OPEN,
    CLOSED,
    DEADLINE_EXCEEDED,
    OPEN,
    Attempt,
    CircuitBreaker,
    MemoryBreakerStore,
    ResilientCaller,
    RetryBudget,
    attempts_of,
)
from gateway.upstream.errors import translate_error_object
from tests.resilience.fakes import FakeClock, FakeSleep, ScriptedUpstream

PRIMARY, FALLBACK = "openai/gpt-4o", "anthropic/claude-haiku-4.5"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=8.0, retry_after_cap_s=10.0, budget_ratio=0.2)
# Opens only when a test means it to.
BREAKER = BreakerPolicy(window_s=30.0, min_requests=1_000_000, failure_rate=0.5, cooldown_s=30.0)


def unavailable() -> GatewayError:
    return translate_error_object(503, {"message": "No available model provider"}, {})


def rate_limited(retry_after: str) -> GatewayError:
    return translate_error_object(429, {"message": "slow down"}, {"retry-after": retry_after})


class Rig:
    """A caller on a fake clock whose sleeps advance that clock, with a scripted upstream."""

    def __init__(
        self, retry: RetryPolicy = RETRY, breaker: BreakerPolicy = BREAKER, *, minimum: int = 10, jitter: float = 0.5
    ) -> None:
        self.clock = FakeClock()
        self.sleep = FakeSleep(self.clock)
        self.store = MemoryBreakerStore(self.clock)
        self.breaker = CircuitBreaker(self.store, breaker, clock=self.clock)
        self.budget = RetryBudget(retry.budget_ratio, minimum=minimum, clock=self.clock)
        self.upstream = ScriptedUpstream(self.clock)
        self.caller = ResilientCaller(
            retry, self.breaker, self.budget, sleep=self.sleep, rng=lambda: jitter, clock=self.clock
        )

    async def call(self, *models: str, deadline_s: float | None = None) -> object:
        return await self.caller.call(models, self.upstream, deadline_s=deadline_s)

    async def fail(self, *models: str, deadline_s: float | None = None) -> GatewayError:
        with pytest.raises(GatewayError) as caught:
            await self.call(*models, deadline_s=deadline_s)
        return caught.value


async def test_a_first_try_success_reports_one_attempt() -> None:
    rig = Rig()
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert outcome.value == f"answer from {PRIMARY}"
    assert outcome.attempts == (Attempt(PRIMARY, 200, None, 0.0),)
    assert (outcome.retries, outcome.fallbacks, outcome.model_used) == (0, 0, PRIMARY)
    assert rig.sleep.calls == []


async def test_retries_back_off_exponentially_with_full_jitter() -> None:
    rig = Rig()
    rig.upstream.script[PRIMARY] = [unavailable(), unavailable()]
    outcome = await rig.caller.call([PRIMARY], rig.upstream, deadline_s=None)
    # rng 0.5 of ceilings 0.5 * 2**0 and 0.5 * 2**1.
    assert rig.sleep.calls == [pytest.approx(0.25), pytest.approx(0.5)]
    assert outcome.retries == 2 and outcome.model_used == PRIMARY
    assert [(a.status, a.error) for a in outcome.attempts] == [
        (503, "upstream_unavailable"), (503, "upstream_unavailable"), (200, None)
    ]


async def test_max_attempts_bounds_the_tries_per_model_and_the_last_error_carries_the_history() -> None:
    rig = Rig()
    rig.upstream.always[PRIMARY] = unavailable
    error = await rig.fail(PRIMARY)
    assert isinstance(error, ServiceUnavailableError)
    assert rig.upstream.calls == [PRIMARY] * 3
    assert [a.model for a in attempts_of(error)] == [PRIMARY] * 3
    assert len(rig.sleep.calls) == 2


async def test_retry_after_is_waited_for_exactly() -> None:
    rig = Rig()
    rig.upstream.script[PRIMARY] = [rate_limited("2")]
    outcome = await rig.caller.call([PRIMARY], rig.upstream, deadline_s=None)
    assert rig.sleep.calls == [2.0]
    assert outcome.attempts[0].retry_after_s == 2.0 and outcome.retries == 1


async def test_retry_after_above_the_cap_fails_over_without_waiting() -> None:
    rig = Rig()
    rig.upstream.script[PRIMARY] = [rate_limited("60")]
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert rig.sleep.calls == []
    assert outcome.model_used == FALLBACK and outcome.fallbacks == 1 and outcome.retries == 0


async def test_retry_after_above_the_cap_without_fallback_returns_the_429_and_its_header() -> None:
    rig = Rig()
    rig.upstream.script[PRIMARY] = [rate_limited("60")]
    error = await rig.fail(PRIMARY)
    assert isinstance(error, RateLimitError) and error.headers["retry-after"] == "60"
    assert rig.upstream.calls == [PRIMARY]


async def test_a_wait_that_would_outlive_the_deadline_is_not_slept() -> None:
    rig = Rig()
    rig.upstream.always[PRIMARY] = lambda: rate_limited("3")
    error = await rig.fail(PRIMARY, deadline_s=5.0)
    # First wait of 3 s fits in 5 s; the second would end at 6 s, past the deadline, so the call gives up.
    assert rig.sleep.calls == [3.0]
    assert isinstance(error, RateLimitError) and len(attempts_of(error)) == 2


async def test_the_deadline_falls_over_to_the_next_model_instead_of_waiting() -> None:
    rig = Rig()
    rig.upstream.cost_s = 1.0
    rig.upstream.script[PRIMARY] = [rate_limited("5")]
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=4.0)
    assert rig.sleep.calls == [] and outcome.model_used == FALLBACK


async def test_sleeps_never_add_up_past_the_deadline() -> None:
    rig = Rig(RETRY.model_copy(update={"max_attempts": 50, "max_delay_s": 2.0}), jitter=0.99)
    rig.upstream.always[PRIMARY] = unavailable
    await rig.fail(PRIMARY, deadline_s=6.0)
    assert sum(rig.sleep.calls) < 6.0 and len(rig.sleep.calls) >= 3


async def test_an_expired_deadline_ends_the_call_with_a_504_the_breaker_ignores() -> None:
    rig = Rig(breaker=BREAKER.model_copy(update={"min_requests": 1}))
    error = await rig.fail(PRIMARY, deadline_s=0.0)
    assert error.status == 504 and error.code == DEADLINE_EXCEEDED
    assert rig.upstream.calls == [] and attempts_of(error) == ()


async def test_an_attempt_outliving_the_deadline_is_cut_off() -> None:
    async def hang(model: str) -> str:
        await asyncio.sleep(5)
        return "never"

    breaker = CircuitBreaker(MemoryBreakerStore(), BREAKER.model_copy(update={"min_requests": 1}))
    caller = ResilientCaller(RETRY, breaker, RetryBudget(0.2))
    with pytest.raises(GatewayError) as caught:
        await caller.call([PRIMARY, FALLBACK], hang, deadline_s=0.05)
    assert caught.value.code == DEADLINE_EXCEEDED
    assert [a.model for a in attempts_of(caught.value)] == [PRIMARY]  # no time left for the fallback
    assert await breaker.states() == {PRIMARY: CLOSED}  # our budget ran out; the model is not to blame


async def test_an_attempt_timeout_is_an_upstream_timeout_and_is_retried() -> None:
    calls: list[str] = []

    async def slow_then_fast(model: str) -> str:
        calls.append(model)
        if len(calls) == 1:
            await asyncio.sleep(5)
        return "fast"

    caller = ResilientCaller(RETRY, CircuitBreaker(MemoryBreakerStore(), BREAKER), RetryBudget(0.2), rng=lambda: 0.0)
    outcome = await caller.call([PRIMARY], slow_then_fast, deadline_s=10.0, attempt_timeout_s=0.05)
    assert outcome.value == "fast" and outcome.retries == 1
    assert outcome.attempts[0].error == "upstream_timeout" and outcome.attempts[0].status == 504


@pytest.mark.parametrize("status", (400, 403, 404, 413, 422))
async def test_client_errors_are_sent_once_and_never_failed_over(status: int) -> None:
    rig = Rig()
    rig.upstream.always[PRIMARY] = lambda: translate_error_object(status, {"message": "bad"}, {})
    error = await rig.fail(PRIMARY, FALLBACK)
    assert error.status == status
    assert rig.upstream.calls == [PRIMARY] and rig.sleep.calls == []


async def test_the_gateways_refused_account_is_not_retried_or_failed_over() -> None:
    rig = Rig()
    rig.upstream.always[PRIMARY] = lambda: UpstreamAccountError("refused")
    await rig.fail(PRIMARY, FALLBACK)
    assert rig.upstream.calls == [PRIMARY]


async def test_a_primary_failing_retryably_is_answered_by_the_fallback() -> None:
    rig = Rig()
    rig.upstream.always[PRIMARY] = unavailable
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert outcome.value == f"answer from {FALLBACK}"
    assert [a.model for a in outcome.attempts] == [PRIMARY] * 3 + [FALLBACK]
    assert (outcome.retries, outcome.fallbacks, outcome.model_used) == (2, 1, FALLBACK)


async def test_an_open_circuit_is_skipped_and_recorded() -> None:
    rig = Rig(breaker=BREAKER.model_copy(update={"min_requests": 2}))
    for _ in range(2):
        await rig.breaker.record(PRIMARY, False)
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert rig.upstream.calls == [FALLBACK]
    skipped = outcome.attempts[0]
    assert (skipped.model, skipped.status, skipped.error, skipped.duration_s) == (PRIMARY, 503, CIRCUIT_OPEN, 0.0)
    assert skipped.retry_after_s == pytest.approx(30.0)
    assert (outcome.retries, outcome.fallbacks) == (0, 1)


async def test_an_open_circuit_without_fallback_is_a_503_with_the_cooldown_left() -> None:
    rig = Rig(breaker=BREAKER.model_copy(update={"min_requests": 2}))
    for _ in range(2):
        await rig.breaker.record(PRIMARY, False)
    rig.clock.advance(12.5)
    error = await rig.fail(PRIMARY)
    assert isinstance(error, ServiceUnavailableError) and error.code == CIRCUIT_OPEN
    assert error.headers["retry-after"] == "18"  # 17.5 s left, rounded up
    assert rig.upstream.calls == []


async def test_retryable_failures_open_the_circuit_mid_call_and_stop_the_retries() -> None:
    rig = Rig(breaker=BREAKER.model_copy(update={"min_requests": 2, "failure_rate": 1.0}))
    rig.upstream.always[PRIMARY] = unavailable
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert rig.upstream.calls == [PRIMARY, PRIMARY, FALLBACK]
    assert outcome.attempts[2].error == CIRCUIT_OPEN
    assert await rig.breaker.states() == {PRIMARY: OPEN, FALLBACK: CLOSED}


async def test_client_errors_keep_the_circuit_closed() -> None:
    rig = Rig(breaker=BREAKER.model_copy(update={"min_requests": 2}))
    rig.upstream.always[PRIMARY] = lambda: translate_error_object(400, {"message": "bad"}, {})
    for _ in range(5):
        await rig.fail(PRIMARY)
    assert await rig.breaker.states() == {PRIMARY: CLOSED}
    assert len(rig.upstream.calls) == 5


async def test_the_budget_caps_a_retry_storm() -> None:
    # Zero jitter keeps the whole storm inside one budget window (the fake sleeps advance the clock).
    rig = Rig(RETRY.model_copy(update={"budget_ratio": 0.1}), minimum=10, jitter=0.0)
    rig.upstream.always[PRIMARY] = unavailable
    for _ in range(1000):
        await rig.fail(PRIMARY)
    retries = len(rig.upstream.calls) - 1000
    # Without the budget this would be 2000 retries.
    assert 100 <= retries <= 110


async def test_errors_that_are_not_gateway_errors_propagate_untouched() -> None:
    async def broken(model: str) -> str:
        raise KeyError("bug")

    caller = ResilientCaller(RETRY, CircuitBreaker(MemoryBreakerStore(), BREAKER), RetryBudget(0.2))
    with pytest.raises(KeyError):
        await caller.call([PRIMARY], broken, deadline_s=None)


async def test_a_call_needs_a_model() -> None:
    caller = ResilientCaller(RETRY, CircuitBreaker(MemoryBreakerStore(), BREAKER), RetryBudget(0.2))
    with pytest.raises(ValueError):
        await caller.call([], ScriptedUpstream(FakeClock()), deadline_s=None)
