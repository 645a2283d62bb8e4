"""The retry budget: a minimum for quiet periods, a ratio under load, a window that slides."""

from __future__ import annotations

import pytest

from gateway.policy.schema import RetryPolicy
from gateway.resilience import RetryBudget
from tests.resilience.fakes import FakeClock


def test_a_quiet_gateway_can_still_retry_up_to_the_minimum() -> None:
    budget = RetryBudget(0.1, minimum=3, clock=FakeClock())
    budget.record_request()
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, False, False]


def test_a_storm_is_capped_at_the_ratio_plus_the_minimum() -> None:
    budget = RetryBudget(0.1, minimum=10, clock=FakeClock())
    granted = 0
    for _ in range(1000):
        budget.record_request()
        # Every request fails and would like two retries.
        granted += sum(budget.try_spend() for _ in range(2))
    assert 100 <= granted <= 110
    assert budget.snapshot() == (1000, granted)


def test_zero_ratio_leaves_only_the_minimum() -> None:
    budget = RetryBudget(0.0, minimum=2, clock=FakeClock())
    for _ in range(100):
        budget.record_request()
    assert sum(budget.try_spend() for _ in range(10)) == 2


def test_the_window_slides_so_old_traffic_stops_counting() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.5, minimum=0, window_s=10.0, clock=clock)
    for _ in range(10):
        budget.record_request()
    assert sum(budget.try_spend() for _ in range(10)) == 5
    clock.advance(5.0)
    assert not budget.try_spend()  # still inside the window: 5 of 10 spent
    clock.advance(5.0)
    assert budget.snapshot() == (0, 0)
    assert not budget.try_spend()  # the old requests aged out with their retries
    budget.record_request()
    budget.record_request()
    assert budget.try_spend() and not budget.try_spend()


def test_from_policy_uses_the_policy_ratio() -> None:
    assert RetryBudget.from_policy(RetryPolicy(budget_ratio=0.3)).ratio == 0.3


@pytest.mark.parametrize("options", [{"ratio": 1.5}, {"ratio": 0.1, "window_s": 0}, {"ratio": 0.1, "minimum": -1}])
def test_nonsense_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryBudget(**options)  # type: ignore[arg-type]
