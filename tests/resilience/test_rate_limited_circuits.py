"""Upstream 429s and circuits: a circuit opened by rate limiting answers 429 with Retry-After, on every store;
retry settings per class of failure (429, 5xx, timeouts), globally and per call (a task's own)."""

from __future__ import annotations

import pytest

from gateway.errors import GatewayError, RateLimitError, ServiceUnavailableError, UpstreamTimeoutError
from gateway.policy.schema import BreakerPolicy, RetryClassPolicy, RetryPolicy
from gateway.resilience import CIRCUIT_OPEN, BreakerStoreError, CircuitBreaker, RedisBreakerStore, RetryBudget
from gateway.resilience.local_breaker import LocalBreakerCache
from tests.resilience.conftest import StoreHarness
from tests.resilience.test_executor import FALLBACK, PRIMARY, Rig, rate_limited, unavailable

TRIPPY = BreakerPolicy(window_s=30.0, min_requests=4, failure_rate=0.5, cooldown_s=2.0)
MODEL = "openai/gpt-4o"


async def _record(harness: StoreHarness, outcomes: str, model: str = MODEL) -> None:
    """`outcomes`: `.` success, `x` failure, `r` rate-limited failure."""
    for outcome in outcomes:
        await harness.store.record(model, outcome == ".", TRIPPY, rate_limited=outcome == "r")


async def test_a_circuit_opened_by_429s_says_so(harness: StoreHarness) -> None:
    await _record(harness, ".rrr")
    assert await harness.store.check(MODEL, TRIPPY) is not None
    assert await harness.store.open_cause(MODEL) == "rate_limit"


async def test_a_circuit_opened_by_mostly_5xx_is_an_outage(harness: StoreHarness) -> None:
    await _record(harness, ".xxr")
    assert await harness.store.check(MODEL, TRIPPY) is not None
    assert await harness.store.open_cause(MODEL) is None
    assert await harness.store.open_cause("never/seen") is None


async def test_a_failed_probe_decides_the_cause(harness: StoreHarness) -> None:
    await _record(harness, "xxxx")
    assert await harness.store.open_cause(MODEL) is None
    await harness.advance(2.1)
    assert await harness.store.check(MODEL, TRIPPY) is None  # the half-open probe
    await _record(harness, "r")
    assert await harness.store.check(MODEL, TRIPPY) is not None
    assert await harness.store.open_cause(MODEL) == "rate_limit"
    await harness.advance(2.1)
    assert await harness.store.check(MODEL, TRIPPY) is None
    await _record(harness, ".")  # a successful probe closes it and forgets the cause
    assert await harness.store.open_cause(MODEL) is None


async def test_the_executor_answers_a_rate_limited_circuit_with_429() -> None:
    rig = Rig(breaker=TRIPPY)
    rig.upstream.always[PRIMARY] = lambda: rate_limited("30")  # beyond the cap: no waiting, straight to failing
    for _ in range(4):
        await rig.fail(PRIMARY)
    error = await rig.fail(PRIMARY)
    assert isinstance(error, RateLimitError)
    assert (error.status, error.type, error.code) == (429, "rate_limit_error", CIRCUIT_OPEN)
    assert error.headers["retry-after"] == "2"
    assert "rate-limited upstream" in error.message


async def test_the_executor_answers_a_failing_circuit_with_503() -> None:
    rig = Rig(breaker=TRIPPY, retry=RetryPolicy(max_attempts=1))
    rig.upstream.always[PRIMARY] = unavailable
    for _ in range(4):
        await rig.fail(PRIMARY)
    error = await rig.fail(PRIMARY)
    assert isinstance(error, ServiceUnavailableError) and error.code == CIRCUIT_OPEN


async def test_a_rate_limited_circuit_still_falls_over_to_the_next_model() -> None:
    rig = Rig(breaker=TRIPPY)
    rig.upstream.always[PRIMARY] = lambda: rate_limited("30")
    for _ in range(4):
        await rig.fail(PRIMARY)
    outcome = await rig.caller.call([PRIMARY, FALLBACK], rig.upstream, deadline_s=None)
    assert outcome.model_used == FALLBACK
    assert outcome.attempts[0].status == 429 and outcome.attempts[0].error == CIRCUIT_OPEN


PER_CLASS = RetryPolicy(
    max_attempts=3, base_delay_s=0.5, max_delay_s=8.0, retry_after_cap_s=10.0,
    rate_limited=RetryClassPolicy(max_attempts=10, max_delay_s=60.0, retry_after_cap_s=60.0),
    timeouts=RetryClassPolicy(max_attempts=1),
)


def _rig(retry: RetryPolicy) -> Rig:
    rig = Rig(retry=retry, minimum=1000)  # a budget that never runs out: the class settings are what counts
    rig.caller.budget = RetryBudget(retry.budget_ratio, minimum=1000, clock=rig.clock)
    return rig


async def test_429s_get_their_own_attempts_and_patience() -> None:
    rig = _rig(PER_CLASS)
    rig.upstream.script[PRIMARY] = [rate_limited("45") for _ in range(9)]
    outcome = await rig.caller.call([PRIMARY], rig.upstream, deadline_s=None)
    assert outcome.retries == 9 and rig.sleep.calls == [45.0] * 9  # Retry-After 45 s honoured, up to 10 attempts


async def test_5xx_keep_the_global_settings_and_timeouts_are_not_retried() -> None:
    rig = _rig(PER_CLASS)
    rig.upstream.script[PRIMARY] = [unavailable() for _ in range(3)]
    error = await rig.fail(PRIMARY)
    assert isinstance(error, ServiceUnavailableError) and len(rig.upstream.calls) == 3
    rig = _rig(PER_CLASS)
    rig.upstream.script[PRIMARY] = [UpstreamTimeoutError("slow")]
    assert isinstance(await rig.fail(PRIMARY), UpstreamTimeoutError) and len(rig.upstream.calls) == 1


async def test_a_calls_own_retry_settings_replace_the_callers() -> None:
    rig = _rig(RetryPolicy(max_attempts=1))
    rig.upstream.script[PRIMARY] = [unavailable(), unavailable()]
    outcome = await rig.caller.call([PRIMARY], rig.upstream, deadline_s=None, retry=RetryPolicy(max_attempts=3))
    assert outcome.retries == 2
    rig.upstream.script[PRIMARY] = [unavailable()]
    with pytest.raises(GatewayError):
        await rig.caller.call([PRIMARY], rig.upstream, deadline_s=None)


async def test_breaker_store_failure_hides_the_cause() -> None:
    class Broken:
        async def open_cause(self, model: str) -> str | None:
            raise BreakerStoreError("down")

    breaker = CircuitBreaker(Broken(), TRIPPY)  # type: ignore[arg-type]
    assert await breaker.open_cause(MODEL) is None and breaker.store_errors == 1


async def test_replicas_share_the_cause_through_redis(redis_client: object) -> None:
    """A replica that never saw the 429s still answers the circuit as a rate limit (LocalBreakerCache in front)."""
    seeing = CircuitBreaker(LocalBreakerCache(RedisBreakerStore(redis_client)), TRIPPY)  # type: ignore[arg-type]
    other = CircuitBreaker(LocalBreakerCache(RedisBreakerStore(redis_client)), TRIPPY)  # type: ignore[arg-type]
    await seeing.record(MODEL, True)
    for _ in range(3):
        await seeing.record(MODEL, False, rate_limited=True)
    assert await other.check(MODEL) is not None
    assert await other.open_cause(MODEL) == "rate_limit"
