"""Admin overrides: stored per org, replacing the caller's policy defaults field by field."""

from __future__ import annotations

from gateway.limits import Budget, RateLimits, Settlement
from tests.limits.conftest import Harness, ask


async def test_set_get_list_reset(harness: Harness) -> None:
    backend = harness.backend
    assert await backend.get_overrides("acme") == (None, None)
    await backend.set_overrides("acme", RateLimits(rpm=5), Budget(daily_usd=12.5))
    await backend.set_overrides("zeta", None, Budget(monthly_usd=100.0))
    assert await backend.get_overrides("acme") == (RateLimits(rpm=5), Budget(daily_usd=12.5))
    assert await backend.get_overrides("zeta") == (None, Budget(monthly_usd=100.0))
    assert await backend.list_orgs() == ["acme", "zeta"]
    # A None part leaves that part alone; a given part replaces it whole.
    await backend.set_overrides("acme", None, Budget(monthly_usd=40.0))
    assert await backend.get_overrides("acme") == (RateLimits(rpm=5), Budget(monthly_usd=40.0))
    await backend.reset("acme")
    assert await backend.get_overrides("acme") == (None, None)
    assert await backend.list_orgs() == ["zeta"]


async def test_override_replaces_the_default_field_by_field(harness: Harness) -> None:
    backend = harness.backend
    defaults = RateLimits(rpm=100, tpm=10_000)
    await backend.set_overrides("acme", RateLimits(rpm=2), None)
    results = [await backend.admit(ask(org_limits=defaults, tokens=10)) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert results[-1].reason == "org_rpm"
    assert results[0].tokens_limit == 10_000  # tpm was not overridden
    other = await backend.admit(ask(org="other", org_limits=defaults))
    assert other.requests_limit == 100


async def test_budget_override_applies_to_admission_and_alerts(harness: Harness) -> None:
    backend = harness.backend
    default = Budget(daily_usd=100.0)
    await backend.set_overrides("acme", None, Budget(daily_usd=1.0))
    assert (await backend.admit(ask(budget=default, reserve_usd=2.0))).reason == "daily_budget"
    alerts = await backend.settle(Settlement("r", "acme", "alice", "m", 0.6, 0, default))
    assert [(a.threshold, a.budget_usd) for a in alerts] == [(50, 1.0)]
    await backend.reset("acme")
    assert (await backend.admit(ask(budget=default, reserve_usd=2.0))).allowed
