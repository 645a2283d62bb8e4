"""A stand-in uvicorn worker for the multiprocess test: records known counts, holds live gauges, then exits.

Run as `python -m tests.metering.metrics_worker INDEX CALLS` with PROMETHEUS_MULTIPROC_DIR set; prints
"ready" once everything is recorded and exits when its stdin closes.
"""

from __future__ import annotations

import sys

from gateway.metrics import Metrics
from tests.metering.conftest import make_record


def main() -> None:
    index, calls = int(sys.argv[1]), int(sys.argv[2])
    metrics = Metrics.from_environment()
    for _ in range(calls):
        record = make_record(status=200, latency_ms=250.0, model_served="m")
        record.add_usage({"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.001})
        metrics.observe_call(record, route="chat", upstream_s=0.2, overhead_s=0.002)
    metrics.rate_limited("acme", "rpm")
    metrics.circuit_state("m", index)
    with metrics.in_flight(), metrics.in_flight():
        print("ready", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
