"""A request's total time budget on the monotonic clock, and the timeouts derived from it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gateway.policy.policy import Route
from gateway.policy.schema import TimeoutPolicy

MonotonicClock = Callable[[], float]


class Deadline:
    """`budget_s` seconds from construction; `None` means no deadline (every query answers "plenty left")."""

    def __init__(self, budget_s: float | None, *, clock: MonotonicClock = time.monotonic) -> None:
        self._clock = clock
        self._at = math.inf if budget_s is None else clock() + budget_s

    @property
    def bounded(self) -> bool:
        return self._at != math.inf

    def remaining(self) -> float:
        """Seconds left, never negative; `math.inf` when unbounded."""
        return max(0.0, self._at - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self._at

    def allows(self, delay_s: float) -> bool:
        """Whether waiting `delay_s` still leaves time to try again (sleeping up to the very end would not)."""
        return self._clock() + delay_s < self._at

    def cap(self, timeout_s: float | None) -> float | None:
        """The smaller of `timeout_s` and the time left, for `asyncio.timeout`; None when both are unbounded."""
        left = self.remaining()
        if timeout_s is None:
            return None if left == math.inf else left
        return min(timeout_s, left)


def request_budget_s(route: Route, timeouts: TimeoutPolicy) -> float:
    """The total budget of one request: the task's own `timeout_s` when it has one, else the global total."""
    return route.timeout_s if route.timeout_s is not None else timeouts.total_s


def first_byte_timeout_s(deadline: Deadline, timeouts: TimeoutPolicy) -> float:
    """How long one attempt may wait for the upstream's response headers, within what the deadline leaves."""
    capped = deadline.cap(timeouts.first_byte_s)
    return timeouts.first_byte_s if capped is None else capped
