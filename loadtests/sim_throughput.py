"""Throughput of the OpenRouter simulator alone: small non-streaming chat completions at fixed concurrency.

Starts `python -m gateway.sim` (one uvicorn worker, uvloop + httptools) as a separate process unless
`--url` points at a running one, then drives it with aiohttp and prints req/s, p50 and p99.

    .venv/bin/python loadtests/sim_throughput.py --concurrency 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import aiohttp

BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the load test."}],
        "max_tokens": 16}
HEADERS = {"Authorization": "Bearer sk-or-v1-loadtest"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/models") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"simulator at {base} did not come up")


async def _worker(session: aiohttp.ClientSession, url: str, stop_at: float, latencies: list[float],
                  failures: list[int]) -> None:
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        async with session.post(url, json=BODY, headers=HEADERS) as response:
            await response.read()
            if response.status != 200:
                failures.append(response.status)
        latencies.append(time.perf_counter() - started)


def _cpu_seconds(pid: int | None) -> float:
    """User+system CPU time of the simulator process (Linux), to report capacity per server core."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(base: str, concurrency: int, seconds: float, pid: int | None) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _wait_ready(session, base)
        url = f"{base}/chat/completions"
        warmup: list[float] = []
        await asyncio.gather(*(_worker(session, url, time.monotonic() + 1, warmup, []) for _ in range(concurrency)))
        latencies: list[float] = []
        failures: list[int] = []
        cpu_before = _cpu_seconds(pid)
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(_worker(session, url, stop_at, latencies, failures) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        cpu = _cpu_seconds(pid) - cpu_before
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"requests={len(latencies)} failures={len(failures)} concurrency={concurrency} seconds={elapsed:.1f}")
    print(f"throughput={len(latencies) / elapsed:.0f} req/s  p50={quantiles[49] * 1000:.2f} ms  "
          f"p99={quantiles[98] * 1000:.2f} ms")
    if cpu > 0:
        # On a small machine the client competes for cores; requests per server CPU-second is the capacity.
        print(f"server cpu={cpu:.1f} s ({cpu / elapsed:.0%} of one core)  "
              f"capacity={len(latencies) / cpu:.0f} req/s per server core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="base URL of a running simulator (…/api/v1); default: start one")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    process = None
    base = args.url
    if base is None:
        port = _free_port()
        process = subprocess.Popen([sys.executable, "-m", "gateway.sim", "--port", str(port)])
        base = f"http://127.0.0.1:{port}/api/v1"
    try:
        asyncio.run(measure(base, args.concurrency, args.seconds, process.pid if process else None))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
