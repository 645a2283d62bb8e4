"""The 100 % alert of a budget that refuses a call: once per period, shared with settlement's alerts."""

from __future__ import annotations

from gateway.limits import Budget, Settlement
from tests.limits.conftest import Harness, ask

DAILY = Budget(daily_usd=1.0)


async def _spend(harness: Harness, usd: float, request_id: str) -> list:
    assert (await harness.backend.admit(ask(budget=DAILY, request_id=request_id))).allowed
    return await harness.backend.settle(Settlement(request_id, "acme", "alice", "m", usd, 10, DAILY))


async def test_a_refused_call_reports_100_percent_once(harness: Harness) -> None:
    fired = await _spend(harness, 0.991, "spend-1")
    assert [a.threshold for a in fired] == [50, 80]
    refused = await harness.backend.admit(ask(budget=DAILY, reserve_usd=0.02))
    assert (refused.allowed, refused.reason) == (False, "daily_budget")
    alerts = await harness.backend.refusal_alerts("acme", DAILY, 0.02)
    assert [(a.period, a.threshold) for a in alerts] == [("daily", 100)]
    assert abs(alerts[0].spent_usd - 0.991) < 1e-9 and alerts[0].budget_usd == 1.0
    assert await harness.backend.refusal_alerts("acme", DAILY, 0.02) == []
    # Settlement reaching 100 % later does not report it again: the marker is shared.
    assert await _spend(harness, 0.005, "spend-2") == []


async def test_other_reservations_do_not_count(harness: Harness) -> None:
    await _spend(harness, 0.5, "spend-1")
    assert (await harness.backend.admit(ask(budget=DAILY, reserve_usd=0.49, request_id="in-flight"))).allowed
    refused = await harness.backend.admit(ask(budget=DAILY, reserve_usd=0.02))
    assert not refused.allowed  # held 0.49 + 0.02 on top of 0.5 spent
    # Spend (0.5) + this call's reservation (0.02) stays under the budget: nothing is exhausted yet.
    assert await harness.backend.refusal_alerts("acme", DAILY, 0.02) == []


async def test_monthly_and_overridden_budgets(harness: Harness) -> None:
    monthly = Budget(monthly_usd=2.0)
    assert (await harness.backend.admit(ask(budget=monthly, request_id="m1"))).allowed
    await harness.backend.settle(Settlement("m1", "acme", "alice", "m", 1.9, 10, monthly))
    alerts = await harness.backend.refusal_alerts("acme", monthly, 0.2)
    assert [(a.period, a.threshold) for a in alerts] == [("monthly", 100)]
    await harness.backend.set_overrides("acme", None, Budget(daily_usd=1.0))
    assert [(a.period, a.budget_usd) for a in await harness.backend.refusal_alerts("acme", Budget(), 0.0)] == [
        ("daily", 1.0)
    ]
    assert await harness.backend.refusal_alerts("nobody", Budget(), 5.0) == []
