"""The request deadline on a controlled monotonic clock."""

from __future__ import annotations

import math

from gateway.policy.policy import Route
from gateway.policy.schema import TimeoutPolicy
from gateway.resilience import Deadline, first_byte_timeout_s, request_budget_s
from tests.resilience.fakes import FakeClock


def test_deadline_counts_down_and_expires() -> None:
    clock = FakeClock()
    deadline = Deadline(5.0, clock=clock)
    assert deadline.bounded and deadline.remaining() == 5.0 and not deadline.expired()
    clock.advance(4.0)
    assert deadline.allows(0.5) and not deadline.allows(1.0)
    clock.advance(1.0)
    assert deadline.expired() and deadline.remaining() == 0.0
    clock.advance(1.0)
    assert deadline.remaining() == 0.0


def test_unbounded_deadline_never_expires_and_caps_nothing() -> None:
    clock = FakeClock()
    deadline = Deadline(None, clock=clock)
    clock.advance(1e9)
    assert not deadline.bounded and not deadline.expired() and deadline.remaining() == math.inf
    assert deadline.cap(None) is None and deadline.cap(3.0) == 3.0


def test_cap_takes_the_smaller_of_timeout_and_time_left() -> None:
    clock = FakeClock()
    deadline = Deadline(10.0, clock=clock)
    assert deadline.cap(3.0) == 3.0
    clock.advance(8.0)
    assert deadline.cap(3.0) == 2.0 and deadline.cap(None) == 2.0


def test_request_budget_prefers_the_task_timeout() -> None:
    timeouts = TimeoutPolicy(total_s=600.0, first_byte_s=60.0)
    assert request_budget_s(Route(requested="m", task=None, models=("m",)), timeouts) == 600.0
    assert request_budget_s(Route(requested="t", task="t", models=("m",), timeout_s=20.0), timeouts) == 20.0


def test_first_byte_timeout_never_outlives_the_deadline() -> None:
    clock = FakeClock()
    timeouts = TimeoutPolicy(first_byte_s=60.0)
    assert first_byte_timeout_s(Deadline(None, clock=clock), timeouts) == 60.0
    assert first_byte_timeout_s(Deadline(15.0, clock=clock), timeouts) == 15.0
