"""Per-call metric updates summed in plain process memory and applied to prometheus-client a few ms later.

prometheus-client takes a lock (and, with several workers, writes an mmap file) for every `inc` and `observe`, and
walks the bucket list in Python for each observation. A finished call touches about ten series, so under load the
gateway sums them here first: one `inc` per touched counter and one per touched histogram bucket for all the calls
finished within `delay_s` (never a task: one loop timer per batch). `flush()` applies what is pending at once; the
`/metrics` handler calls it before rendering, so this process's own figures are never stale.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from typing import Any

from prometheus_client import Counter, Histogram


class MetricTally:
    __slots__ = ("_counters", "_delay_s", "_histograms", "_scheduled")

    def __init__(self, delay_s: float = 0.005) -> None:
        self._delay_s = delay_s
        self._counters: dict[Counter, float] = {}
        self._histograms: dict[Histogram, list[float]] = {}  # bucket counts, then the sum, last
        self._scheduled: asyncio.TimerHandle | None = None

    def inc(self, counter: Counter, amount: float = 1.0) -> None:
        self._counters[counter] = self._counters.get(counter, 0.0) + amount
        self._schedule()

    def observe(self, histogram: Histogram, amount: float) -> None:
        bounds: Any = histogram._upper_bounds  # the child's own buckets, applied in bulk in flush()
        pending = self._histograms.get(histogram)
        if pending is None:
            pending = self._histograms[histogram] = [0.0] * (len(bounds) + 1)
        pending[bisect_left(bounds, amount)] += 1  # the first bound >= amount, as Histogram.observe picks it
        pending[-1] += amount
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside an event loop (a CLI, a unit test): apply at once
            self.flush()
            return
        self._scheduled = loop.call_later(self._delay_s, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        counters, histograms = self._counters, self._histograms
        self._counters, self._histograms = {}, {}
        for counter, amount in counters.items():
            counter.inc(amount)
        for histogram, pending in histograms.items():
            buckets: Any = histogram._buckets
            histogram._sum.inc(pending[-1])
            for index, count in enumerate(pending[:-1]):
                if count:
                    buckets[index].inc(count)
