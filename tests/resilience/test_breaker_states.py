"""The breaker state machine, run identically against the in-memory store and Redis."""

from __future__ import annotations

import pytest

from gateway.policy.schema import BreakerPolicy
from gateway.resilience import CLOSED, HALF_OPEN, OPEN
from tests.resilience.conftest import StoreHarness

MODEL = "openai/gpt-4o"
# Short enough that the Redis variant waits in real time without slowing the suite much.
COOLDOWN_S = 0.3
POLICY = BreakerPolicy(window_s=30.0, min_requests=4, failure_rate=0.5, cooldown_s=COOLDOWN_S, half_open_probes=1)


async def record_many(harness: StoreHarness, outcomes: str, policy: BreakerPolicy = POLICY) -> None:
    """`outcomes` like "ffsf": f = failure, s = success."""
    for outcome in outcomes:
        await harness.store.record(MODEL, outcome == "s", policy)


async def state(harness: StoreHarness) -> str:
    return (await harness.store.states([MODEL]))[MODEL]


async def open_circuit(harness: StoreHarness, policy: BreakerPolicy = POLICY) -> None:
    await record_many(harness, "f" * policy.min_requests, policy)
    assert await state(harness) == OPEN


async def test_an_unknown_model_is_closed_and_allowed(harness: StoreHarness) -> None:
    assert await harness.store.check(MODEL, POLICY) is None
    assert await state(harness) == CLOSED


async def test_failures_below_min_requests_never_open(harness: StoreHarness) -> None:
    await record_many(harness, "fff")
    assert await harness.store.check(MODEL, POLICY) is None
    assert await state(harness) == CLOSED


async def test_opens_once_min_requests_reach_the_failure_rate(harness: StoreHarness) -> None:
    await record_many(harness, "sfsf")  # 4 outcomes, 50 % failures
    wait = await harness.store.check(MODEL, POLICY)
    assert wait is not None and 0 < wait <= COOLDOWN_S
    assert await state(harness) == OPEN


async def test_a_failure_rate_below_the_threshold_stays_closed(harness: StoreHarness) -> None:
    await record_many(harness, "ssfsssfs")  # 25 %
    assert await harness.store.check(MODEL, POLICY) is None


async def test_client_errors_recorded_as_successes_keep_it_closed(harness: StoreHarness) -> None:
    await record_many(harness, "s" * 20)
    assert await state(harness) == CLOSED


async def test_open_becomes_half_open_after_the_cooldown(harness: StoreHarness) -> None:
    await open_circuit(harness)
    await harness.advance(COOLDOWN_S + 0.05)
    assert await state(harness) == HALF_OPEN
    assert await harness.store.check(MODEL, POLICY) is None  # the probe


async def test_half_open_admits_only_the_configured_probes(harness: StoreHarness) -> None:
    policy = POLICY.model_copy(update={"half_open_probes": 2})
    await open_circuit(harness, policy)
    await harness.advance(COOLDOWN_S + 0.05)
    assert await harness.store.check(MODEL, policy) is None
    assert await harness.store.check(MODEL, policy) is None
    wait = await harness.store.check(MODEL, policy)
    assert wait is not None and 0 < wait <= COOLDOWN_S


async def test_a_successful_probe_closes_with_fresh_counts(harness: StoreHarness) -> None:
    await open_circuit(harness)
    await harness.advance(COOLDOWN_S + 0.05)
    assert await harness.store.check(MODEL, POLICY) is None
    await harness.store.record(MODEL, True, POLICY)
    assert await state(harness) == CLOSED
    await record_many(harness, "fff")  # the failures from before the opening are gone
    assert await state(harness) == CLOSED


async def test_a_failed_probe_reopens_for_another_cooldown(harness: StoreHarness) -> None:
    await open_circuit(harness)
    await harness.advance(COOLDOWN_S + 0.05)
    assert await harness.store.check(MODEL, POLICY) is None
    await harness.store.record(MODEL, False, POLICY)
    assert await state(harness) == OPEN
    wait = await harness.store.check(MODEL, POLICY)
    assert wait is not None and wait > COOLDOWN_S / 2


async def test_outcomes_reported_while_open_are_ignored(harness: StoreHarness) -> None:
    await open_circuit(harness)
    await harness.store.record(MODEL, True, POLICY)  # a request that started before the circuit opened
    assert await state(harness) == OPEN
    await harness.advance(COOLDOWN_S + 0.05)
    assert await state(harness) == HALF_OPEN  # nor did late failures push the reopening out


async def test_a_probe_that_never_reports_frees_its_slot_after_a_cooldown(harness: StoreHarness) -> None:
    await open_circuit(harness)
    await harness.advance(COOLDOWN_S + 0.05)
    assert await harness.store.check(MODEL, POLICY) is None  # probe taken, its replica then dies
    assert await harness.store.check(MODEL, POLICY) is not None
    await harness.advance(COOLDOWN_S + 0.05)
    assert await harness.store.check(MODEL, POLICY) is None


async def test_failures_older_than_the_window_stop_counting(harness: StoreHarness) -> None:
    policy = POLICY.model_copy(update={"window_s": 0.5})
    await record_many(harness, "fff", policy)
    await harness.advance(0.6)
    await record_many(harness, "f", policy)
    assert await state(harness) == CLOSED
    await record_many(harness, "fff", policy)
    assert await state(harness) == OPEN


async def test_circuits_are_per_model(harness: StoreHarness) -> None:
    await open_circuit(harness)
    assert await harness.store.check("anthropic/claude-haiku-4.5", POLICY) is None
    states = await harness.store.states([MODEL, "anthropic/claude-haiku-4.5"])
    assert states == {MODEL: OPEN, "anthropic/claude-haiku-4.5": CLOSED}


@pytest.mark.parametrize("outcomes", ["ffff", "sfsf"])
async def test_memory_and_redis_agree_on_the_opening_point(harness: StoreHarness, outcomes: str) -> None:
    await record_many(harness, outcomes[:-1])
    assert await state(harness) == CLOSED
    await record_many(harness, outcomes[-1])
    assert await state(harness) == OPEN
