"""A process-wide cap on retries, so an upstream outage does not turn every request into several.

Retries may add at most `ratio` x the requests seen over a sliding window, plus `minimum` per window so a quiet
gateway (a handful of requests) can still retry at all. The scheme is Finagle's RetryBudget; counts live in
`buckets` slices of the window so expiry is O(1) per call. Per replica by design: N replicas each allow `ratio`,
which is still `ratio` of the total traffic.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.policy.schema import RetryPolicy

DEFAULT_WINDOW_S = 10.0
DEFAULT_MINIMUM = 10


class RetryBudget:
    def __init__(
        self,
        ratio: float,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        minimum: int = DEFAULT_MINIMUM,
        buckets: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ratio <= 1:
            raise ValueError("ratio must be between 0 and 1")
        if window_s <= 0 or buckets < 1 or minimum < 0:
            raise ValueError("window_s and buckets must be positive, minimum not negative")
        self.ratio = ratio
        self.minimum = minimum
        self._width = window_s / buckets
        self._buckets = buckets
        self._clock = clock
        # (bucket number, requests, retries), oldest first; totals are kept alongside so checks are O(1).
        self._slices: deque[list[int]] = deque()
        self._requests = 0
        self._retries = 0

    @classmethod
    def from_policy(cls, policy: RetryPolicy, *, clock: Callable[[], float] = time.monotonic) -> RetryBudget:
        return cls(policy.budget_ratio, clock=clock)

    def record_request(self) -> None:
        """Count one client request (not each upstream attempt): the base the ratio applies to."""
        self._current()[1] += 1
        self._requests += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget if there is one left; False means "do not retry"."""
        current = self._current()
        # Whole retries only (the epsilon absorbs float error such as 0.29 * 100 = 28.999...).
        if self._retries >= self.minimum + int(self.ratio * self._requests + 1e-9):
            return False
        current[2] += 1
        self._retries += 1
        return True

    def snapshot(self) -> tuple[int, int]:
        """(requests, retries) inside the window, for metrics and tests."""
        self._current()
        return self._requests, self._retries

    def _current(self) -> list[int]:
        bucket = int(self._clock() // self._width)
        while self._slices and self._slices[0][0] <= bucket - self._buckets:
            _, requests, retries = self._slices.popleft()
            self._requests -= requests
            self._retries -= retries
        if not self._slices or self._slices[-1][0] != bucket:
            self._slices.append([bucket, 0, 0])
        return self._slices[-1]
