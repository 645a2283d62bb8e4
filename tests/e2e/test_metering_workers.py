"""`gateway serve --workers 2`: the merged /metrics counters equal the shared Redis ledger, call for call."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from prometheus_client.mmap_dict import MmapedDict

from gateway.auth.tokens import mint_token
from gateway.metering import LedgerRecord
from gateway.metrics import MULTIPROC_ENV
from tests.e2e.conftest import JWT_SECRET, POLICY_FILE, UPSTREAM_KEY, Sim
from tests.metering.metrics_samples import samples
from tests.metering.traffic import (
    CANCELLABLE_MODEL,
    UNCANCELLABLE_MODEL,
    chat,
    cut_stream,
    send_mixed,
    slow_answer,
    wait_for,
)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 6  # concurrent rounds of mixed traffic, so both workers take a share
TOKEN_KINDS = {"prompt": "prompt_tokens", "completion": "completion_tokens", "reasoning": "reasoning_tokens",
               "cached": "cached_tokens"}


def _leave_stale_counts(directory: Path) -> None:
    """Counts a previous run left behind; `serve` must clear them or they would be added into this run's."""
    subprocess.run([sys.executable, "-m", "tests.metering.metrics_worker", "0", "7"], cwd=ROOT, input="",
                   env={**os.environ, MULTIPROC_ENV: str(directory)}, check=True, capture_output=True, text=True)
    assert list(directory.glob("counter_*.db"))


@pytest.fixture
def served(sim: Sim, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, redis.Redis, str, Path]]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    _leave_stale_counts(metrics_dir)
    stream_key = f"gw:ledger:test-{uuid.uuid4().hex}"
    port = free_port()
    env = {
        **os.environ, "OPENROUTER_BASE_URL": sim.base_url, "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "GATEWAY_JWT_SECRET": JWT_SECRET, "REDIS_URL": redis_url, "GATEWAY_POLICY_FILE": str(POLICY_FILE),
        "GATEWAY_SPOOL_DIR": str(tmp_path / "spool"), "GATEWAY_LEDGER_STREAM_KEY": stream_key,
        "GATEWAY_ACCESS_LOG": "false", MULTIPROC_ENV: str(metrics_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2", "--graceful-timeout", "5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    client = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: _healthy(url, process), "the gateway to start")
        yield url, client, stream_key, metrics_dir
    finally:
        process.terminate()
        process.wait(timeout=30)
        client.delete(stream_key)
        client.close()


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"gateway exited: {process.stderr.read().decode() if process.stderr else ''}")
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _round(url: str, index: int) -> int:
    token = mint_token(JWT_SECRET, org=f"org-{index % 2}", subject="alice", roles=["user"])
    with httpx.Client(base_url=f"{url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30) as client:
        calls = send_mixed(client, f"round {index}")
    model = CANCELLABLE_MODEL if index % 2 else UNCANCELLABLE_MODEL
    cut_stream(f"{url}/v1", token, chat(f"story {index}", model=model, **slow_answer(100)))
    return calls + 1


def _ledger(client: redis.Redis, stream_key: str) -> list[LedgerRecord]:
    return [LedgerRecord.from_json(fields[b"r"]) for _, fields in client.xrange(stream_key)]


def _pids_that_served(directory: Path) -> set[str]:
    pids = set()
    for path in directory.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if orjson.loads(key)[0] == "gateway_requests" and value > 0:
                pids.add(path.stem.rpartition("_")[2])
    return pids


def test_metrics_from_two_workers_equal_the_ledger(served: tuple[str, redis.Redis, str, Path]) -> None:
    url, client, stream_key, metrics_dir = served
    calls = 0
    # The kernel hands connections to whichever worker accepts first, so one worker may take a whole burst:
    # keep sending (bounded) until both have served, so that the merge across workers is really exercised.
    for burst in range(10):
        with ThreadPoolExecutor(ROUNDS) as pool:
            calls += sum(pool.map(lambda i: _round(url, i), range(burst * ROUNDS, (burst + 1) * ROUNDS)))
        if len(_pids_that_served(metrics_dir)) == 2:
            break
    wait_for(lambda: client.xlen(stream_key) >= calls, f"{calls} ledger records")
    records = _ledger(client, stream_key)
    assert len(records) == calls
    assert len(_pids_that_served(metrics_dir)) == 2  # both workers took calls, so the merge was exercised

    found = samples(httpx.get(f"{url}/metrics").content)

    def total(name: str, **labels: str) -> float:
        return sum(value for (sample, sample_labels), value in found.items()
                   if sample == name and all((k, v) in sample_labels for k, v in labels.items()))

    assert total("gateway_requests_total") == calls
    for status in {r.status for r in records}:
        assert total("gateway_requests_total", status=str(status)) == sum(r.status == status for r in records)
    for org in {r.org for r in records}:
        assert total("gateway_requests_total", org=org) == sum(r.org == org for r in records)
        org_cost = sum(r.cost_usd for r in records if r.org == org)
        assert total("gateway_cost_usd_total", org=org) == pytest.approx(org_cost, abs=1e-9)
    assert total("gateway_cost_usd_total") == pytest.approx(sum(r.cost_usd for r in records), abs=1e-9)
    for kind, field in TOKEN_KINDS.items():
        assert total("gateway_tokens_total", kind=kind) == sum(getattr(r, field) for r in records), kind
    assert total("gateway_tokens_total", kind="completion") > 0
    assert {r.cost_source for r in records if r.cancelled} == {"generation"}
