"""Garbage-collector settings for a server process: most of what a request allocates dies with the request.

CPython's default collects the youngest generation every 700 net allocations, which a proxied call makes several
times over, and every full collection rescans everything imported at start-up. Measured with py-spy and
loadtests/bench.py on one worker, moving start-up objects out of the collector's sight (`gc.freeze`) and collecting
the young generation every 20,000 allocations cut the CPU per JSON call by about 10 % and its p99 latency by half;
reference cycles are still collected, only in larger batches. The older generations keep CPython's thresholds:
raising those too (20, 20) let a worker's resident memory creep up 8.5 MB over an 8-minute soak.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10


def tune_for_serving() -> None:
    """Call once the app is built (everything imported): freezes what exists, then sets a larger young threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
