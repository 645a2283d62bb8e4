"""Budget reservations, settlement, expiry, period resets and alerts, against both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.limits import Budget, Settlement
from gateway.limits.periods import periods_at
from tests.limits.conftest import Harness, ask


def settled(request_id: str, cost: float, *, model: str = "m", budget: Budget | None = None) -> Settlement:
    return Settlement(request_id, "acme", "alice", model, cost, 0, budget or Budget())


async def test_budget_never_exceeded_by_200_concurrent_reservations(harness: Harness) -> None:
    budget = Budget(daily_usd=1.0)
    asks = [ask(budget=budget, reserve_usd=0.03, request_id=f"b{i}") for i in range(200)]
    results = await asyncio.gather(*(harness.backend.admit(a) for a in asks))
    admitted = [a for a, r in zip(asks, results, strict=True) if r.allowed]
    assert len(admitted) == 33  # floor(1.00 / 0.03)
    assert sum(a.reserve_usd for a in admitted) <= 1.0
    assert {r.reason for r in results if not r.allowed} == {"daily_budget"}
    summary = await harness.backend.spend("acme")
    assert abs(summary.reserved_usd - 0.99) < 1e-9 and summary.reservations == 33
    # Each actually cost a third of its reservation: 0.33 spent, nothing held, so 22 more fit.
    await asyncio.gather(*(harness.backend.settle(settled(a.request_id, 0.01)) for a in admitted))
    summary = await harness.backend.spend("acme")
    assert abs(summary.daily_usd - 0.33) < 1e-9 and summary.reserved_usd == 0.0
    more = await asyncio.gather(*(harness.backend.admit(ask(budget=budget, reserve_usd=0.03)) for _ in range(100)))
    assert sum(r.allowed for r in more) == 22


async def test_release_frees_the_reservation_and_spends_nothing(harness: Harness) -> None:
    budget = Budget(daily_usd=1.0)
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.8, request_id="x"))).allowed
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.8))).reason == "daily_budget"
    await harness.backend.release("x", "acme", "alice")
    summary = await harness.backend.spend("acme")
    assert (summary.daily_usd, summary.reserved_usd) == (0.0, 0.0)
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.8))).allowed


async def test_expired_reservation_frees_budget(harness: Harness) -> None:
    budget = Budget(monthly_usd=1.0)
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=1.0, ttl_s=0.3))).allowed
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.5))).reason == "monthly_budget"
    await harness.advance(0.4)
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.5))).allowed
    assert (await harness.backend.spend("acme")).reserved_usd == 0.5


async def test_settlement_after_expiry_still_records_spend(harness: Harness) -> None:
    assert (
        await harness.backend.admit(ask(budget=Budget(daily_usd=5), reserve_usd=1.0, ttl_s=0.2, request_id="late"))
    ).allowed
    await harness.advance(0.3)
    await harness.backend.settle(settled("late", 0.7))
    summary = await harness.backend.spend("acme")
    assert (summary.daily_usd, summary.reserved_usd, summary.reservations) == (0.7, 0.0, 0)


async def test_settle_is_idempotent(harness: Harness) -> None:
    assert (await harness.backend.admit(ask(reserve_usd=1.0, request_id="once"))).allowed
    first = await harness.backend.settle(settled("once", 0.25, budget=Budget(daily_usd=0.5)))
    second = await harness.backend.settle(settled("once", 0.25, budget=Budget(daily_usd=0.5)))
    assert [a.threshold for a in first] == [50]
    assert second == []
    summary = await harness.backend.spend("acme")
    assert (summary.daily_usd, summary.monthly_usd, summary.reserved_usd) == (0.25, 0.25, 0.0)
    assert summary.by_model == {"m": 0.25}


async def test_spend_breakdown_by_model_and_day(harness: Harness) -> None:
    await harness.backend.settle(settled("a", 0.5, model="openai/gpt-4o"))
    await harness.backend.settle(settled("b", 0.25, model="anthropic/claude"))
    await harness.backend.settle(settled("c", 0.125, model="openai/gpt-4o"))
    summary = await harness.backend.spend("acme")
    today = periods_at(harness.now()).day
    assert summary.by_model == {"openai/gpt-4o": 0.625, "anthropic/claude": 0.25}
    assert summary.by_day == {today: 0.875}
    assert summary.day == today and summary.daily_usd == 0.875
    assert (await harness.backend.spend("other")).by_model == {}


async def test_large_amounts_stay_exact(harness: Harness) -> None:
    # Lua prints numbers with %.14g; nano-dollar amounts this large must still add up to the last digit.
    budget = Budget(monthly_usd=1_000_000.0)
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=250_000.123456789, request_id="big"))).allowed
    assert (await harness.backend.spend("acme")).reserved_usd == 250_000.123456789
    await harness.backend.settle(settled("big", 123_456.987654321))
    await harness.backend.settle(settled("big2", 100_000.000000001))
    summary = await harness.backend.spend("acme")
    assert summary.monthly_usd == 223_456.987654322
    assert summary.reserved_usd == 0.0


async def test_over_budget_retry_after_is_time_to_period_reset(harness: Harness) -> None:
    await harness.backend.settle(settled("spent", 2.0))
    daily = await harness.backend.admit(ask(budget=Budget(daily_usd=1.0), reserve_usd=0.1))
    monthly = await harness.backend.admit(ask(budget=Budget(daily_usd=10.0, monthly_usd=1.0), reserve_usd=0.1))
    periods = periods_at(harness.now())
    assert (daily.allowed, daily.reason, daily.budget_exhausted) == (False, "daily_budget", True)
    assert abs(daily.retry_after_s - periods.day_reset_s) < 2
    assert monthly.reason == "monthly_budget"
    assert abs(monthly.retry_after_s - periods.month_reset_s) < 2
    assert daily.headers()["retry-after"] == str(int(-(-daily.retry_after_s // 1)))


async def test_free_request_passes_until_spend_exceeds_the_budget(harness: Harness) -> None:
    budget = Budget(daily_usd=1.0)
    await harness.backend.settle(settled("s1", 1.0))
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.0))).allowed
    assert not (await harness.backend.admit(ask(budget=budget, reserve_usd=0.01))).allowed
    await harness.backend.settle(settled("s2", 0.01))
    assert (await harness.backend.admit(ask(budget=budget, reserve_usd=0.0))).reason == "daily_budget"


async def test_alerts_once_per_threshold_under_concurrent_settles(harness: Harness) -> None:
    budget = Budget(daily_usd=10.0, monthly_usd=100.0)
    batches = await asyncio.gather(*(harness.backend.settle(settled(f"s{i}", 0.1, budget=budget)) for i in range(100)))
    alerts = [a for batch in batches for a in batch]
    assert sorted((a.period, a.threshold) for a in alerts) == [("daily", 50), ("daily", 80), ("daily", 100)]
    periods = periods_at(harness.now())
    assert {a.period_key for a in alerts} == {periods.day}
    hundred = next(a for a in alerts if a.threshold == 100)
    assert hundred.budget_usd == 10.0 and hundred.spent_usd >= 10.0 - 1e-9
    more = await harness.backend.settle(settled("after", 45.0, budget=budget))
    assert [(a.period, a.threshold) for a in more] == [("monthly", 50)]


async def test_daily_alerts_start_over_the_next_day(harness: Harness) -> None:
    if harness.clock is None:
        return  # needs a day to pass
    budget = Budget(daily_usd=1.0)
    harness.clock.set(datetime(2025, 3, 1, 23, 0, tzinfo=UTC).timestamp())
    assert [a.threshold for a in await harness.backend.settle(settled("d1", 1.0, budget=budget))] == [50, 80, 100]
    harness.clock.advance(3600)
    alerts = await harness.backend.settle(settled("d2", 0.6, budget=budget))
    assert [(a.period_key, a.threshold) for a in alerts] == [("2025-03-02", 50)]
    admission = await harness.backend.admit(ask(budget=budget, reserve_usd=0.5))
    assert admission.reason == "daily_budget" and admission.retry_after_s == 24 * 3600  # it is now 00:00 on the 2nd


async def test_month_end_retry_after_in_memory(harness: Harness) -> None:
    if harness.clock is None:
        return  # Redis time cannot be moved; the test above checks Redis against its own clock.
    harness.clock.set(datetime(2024, 2, 29, 23, 59, 30, tzinfo=UTC).timestamp())
    await harness.backend.settle(settled("s", 5.0))
    admission = await harness.backend.admit(ask(budget=Budget(monthly_usd=5.0), reserve_usd=0.01))
    assert (admission.reason, admission.retry_after_s) == ("monthly_budget", 30.0)
