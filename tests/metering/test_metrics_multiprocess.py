from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.metrics import MULTIPROC_ENV, Metrics
from tests.metering.metrics_samples import value

ROOT = Path(__file__).resolve().parents[2]
CALLS = (7, 11, 13)


def _start_workers(directory: Path) -> list[subprocess.Popen[str]]:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    workers = [
        subprocess.Popen([sys.executable, "-m", "tests.metering.metrics_worker", str(index), str(calls)], cwd=ROOT,
                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for index, calls in enumerate(CALLS)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    return workers


def _stop(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.close()
    assert [worker.wait(timeout=30) for worker in workers] == [0] * len(workers)


def test_counts_from_every_worker_are_summed(tmp_path: Path) -> None:
    workers = _start_workers(tmp_path)
    try:
        body, _ = Metrics(multiprocess_dir=str(tmp_path)).render()
    finally:
        _stop(workers)
    total = sum(CALLS)
    assert value(body, "gateway_requests_total", route="chat", model="m", status="200", org="acme") == total
    assert value(body, "gateway_tokens_total", model="m", kind="prompt") == 10 * total
    assert value(body, "gateway_tokens_total", model="m", kind="completion") == 5 * total
    assert value(body, "gateway_cost_usd_total", model="m", org="acme") == pytest.approx(0.001 * total)
    assert value(body, "gateway_request_duration_seconds_count", route="chat") == total
    assert value(body, "gateway_overhead_seconds_bucket", route="chat", le="0.0025") == total
    assert value(body, "gateway_rate_limited_total", org="acme", reason="rpm") == len(CALLS)
    # Live gauges: in-flight sums across workers, circuit state takes the worst (highest) one.
    assert value(body, "gateway_in_flight_requests") == 2 * len(CALLS)
    assert value(body, "gateway_circuit_state", model="m") == len(CALLS) - 1


def test_live_gauges_of_exited_workers_are_dropped_and_counters_kept(tmp_path: Path) -> None:
    _stop(_start_workers(tmp_path))
    body, _ = Metrics(multiprocess_dir=str(tmp_path)).render()
    assert value(body, "gateway_requests_total", route="chat", model="m", status="200", org="acme") == sum(CALLS)
    assert value(body, "gateway_in_flight_requests") is None
    assert value(body, "gateway_circuit_state", model="m") is None
    assert not list(tmp_path.glob("gauge_live*"))
