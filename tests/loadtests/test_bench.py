"""The README's benchmark commands run end to end (tiny and short): every cell served traffic without errors.

No timing is asserted: these keep the harness working, the numbers come from real runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^(json|stream) (\S+(?: \S+)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s+(\d+)$")


def test_bench_runs_every_cell_and_compares_them(redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "loadtests/bench.py", "--upstream", "sim", "--concurrency", "4", "--duration", "1",
         "--workers", "1", "--variants", "all-on,in-process", "--redis-url", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {(m[1], m[2]): m for line in result.stdout.splitlines() if (m := _ROW.match(line.strip()))}
    cells = {"direct", "passthrough", "gateway all-on", "gateway in-process"}
    assert set(rows) == {(kind, cell) for kind in ("json", "stream") for cell in cells}, result.stdout
    for (kind, cell), row in rows.items():
        assert float(row[3]) > 0, f"{kind} {cell} served nothing"
        assert row[8] == "0", f"{kind} {cell} had errors"
        if kind == "stream":
            assert row[6] != "-", f"{kind} {cell} measured no time to first token"
    assert "json gateway all-on vs passthrough: throughput" in result.stdout
    assert "stream gateway in-process vs direct: throughput" in result.stdout


def test_wrk_bench_measures_gateway_passthrough_and_cluster(redis_url: str, redis_cluster_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "loadtests/bench.py", "--concurrency", "4", "--duration", "1", "--workers", "1",
         "--latency-concurrency", "1,2", "--latency-duration", "1", "--ttft-duration", "0.5", "--warmup", "0",
         "--delay-ms", "20", "--redis-url", redis_url, "--cluster", "--redis-cluster-url", redis_cluster_url,
         "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    cells = {(c["kind"], c["delay_ms"], c["concurrency"], c["server"]): c for c in report["cells"]}
    servers = ("passthrough", "gateway", "gateway cluster")
    expected = {(kind, 0, 4, server) for kind in ("json", "stream") for server in servers}
    expected |= {("json", 20, concurrency, server) for concurrency in (1, 2) for server in servers}
    assert set(cells) == expected
    for key, cell in cells.items():
        assert cell["requests"] > 0 and cell["errors"] == 0, key
        assert cell["cpu_ms_per_request"] >= 0 and cell["p99_ms"] >= cell["p50_ms"] > 0, key
        # Only the gateways use Redis; the cluster's figures are summed over its three nodes.
        assert (cell["redis_cpu_ms_per_request"] is None) == (cell["server"] == "passthrough"), key
    assert set(report["ttft_p50_ms"]) == {"passthrough", "gateway"}
    assert all(value > 0 for value in report["ttft_p50_ms"].values())
    assert set(report["rss_mb"]) == set(servers) and all(report["rss_mb"][server] for server in servers)


def test_wrk_bench_prints_a_table(redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "loadtests/bench.py", "--concurrency", "2", "--duration", "1", "--workers", "1",
         "--latency-concurrency", "1", "--latency-duration", "1", "--ttft-duration", "0.3", "--warmup", "0",
         "--delay-ms", "10", "--redis-url", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CPU ms/req" in result.stdout and "Redis CPU ms/req" in result.stdout
    for line in ("gateway json:", "gateway stream:", "gateway p50 added at a 10 ms upstream: c=1",
                 "time to first token p50", "RSS per worker, gateway:"):
        assert line in result.stdout, result.stdout
