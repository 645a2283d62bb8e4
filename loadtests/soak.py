"""Soak: steady mixed traffic for a while, sampling each gateway worker's resident memory and Redis's memory.

    python -m loadtests.soak --minutes 10 --concurrency 20 --workers 2 --redis-url redis://127.0.0.1:6379/13

Starts the simulator and `gateway serve` on loopback, sends JSON and streaming chat requests at a fixed
concurrency, and prints every worker's RSS (and Redis's `used_memory`) each `--sample-s` seconds, then the growth
from the first sample taken after warm-up to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import uvloop

from gateway.auth.tokens import mint_token
from loadtests.bench_sim import BENCH_POLICY, BENCH_SECRET, SIM_KEY
from loadtests.launch import free_port, process
from loadtests.meters import redis_sample

Row = tuple[float, list[float], float | None]  # seconds since start, RSS MB per worker, Redis used_memory MB


def _children(pid: int) -> list[int]:
    """Direct and indirect child processes of `pid` (the uvicorn workers of `gateway serve`)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if int(stat[3]) == pid:
                found.append(int(entry.name))
    return found + [grandchild for child in found for grandchild in _children(child)]


def _is_worker(pid: int) -> bool:
    """uvicorn starts its workers through multiprocessing's spawn; its resource tracker is not one."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _traffic(url: str, token: str, concurrency: int, stop_at: float) -> int:
    bodies = [
        orjson.dumps({"model": "openai/gpt-4o-mini", "max_tokens": 48,
                      "messages": [{"role": "user", "content": f"soak request {i}"}], "stream": i % 3 == 0})
        for i in range(30)
    ]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.monotonic() < stop_at:
                async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as response:
                    await response.read()
                done += 1
                i += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done


async def _sample(server_pid: int, redis_url: str | None, stop_at: float, every_s: float, rows: list[Row]) -> None:
    started = time.monotonic()
    while time.monotonic() < stop_at:
        await asyncio.sleep(every_s)
        workers = [pid for pid in _children(server_pid) if _is_worker(pid)] or [server_pid]
        sizes = [round(_rss_mb(pid), 1) for pid in sorted(workers)]
        redis_mb = round(redis_sample([redis_url]).used_memory / 1_048_576, 1) if redis_url else None
        rows.append((time.monotonic() - started, sizes, redis_mb))
        print(f"{rows[-1][0]:7.0f} s  RSS MB per process: {sizes}  Redis used_memory MB: {redis_mb}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample-s", type=float, default=30)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    uvloop.install()
    policy = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115 - lives for the run
    policy.write(BENCH_POLICY)
    policy.close()
    sim_port, gateway_port = free_port(), free_port()
    env = {**os.environ, "GATEWAY_JWT_SECRET": BENCH_SECRET, "GATEWAY_ACCESS_LOG": "false",
           "GATEWAY_POLICY_FILE": policy.name, "OPENROUTER_API_KEY": SIM_KEY,
           "OPENROUTER_BASE_URL": f"http://127.0.0.1:{sim_port}/api/v1"}
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    sim_cmd = [sys.executable, "-m", "gateway", "sim", "--port", str(sim_port)]
    gateway_cmd = [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port),
                   "--workers", str(args.workers)]
    with process(sim_cmd, env, f"http://127.0.0.1:{sim_port}/api/v1/models"), \
            process(gateway_cmd, env, f"http://127.0.0.1:{gateway_port}/healthz") as server:
        token = mint_token(BENCH_SECRET, org="bench", subject="soak", ttl_s=int(args.minutes * 60) + 600)
        stop_at = time.monotonic() + args.minutes * 60
        rows: list[Row] = []

        async def run() -> int:
            sampler = asyncio.ensure_future(_sample(server.pid, args.redis_url, stop_at, args.sample_s, rows))
            done = await _traffic(f"http://127.0.0.1:{gateway_port}/v1/chat/completions", token,
                                  args.concurrency, stop_at)
            await sampler
            return done

        done = asyncio.run(run())
    print(f"{done} requests in {args.minutes:g} min ({done / (args.minutes * 60):.0f} req/s)")
    if not rows:
        return
    warm = next((row for row in rows if row[0] >= 60), rows[0])
    last = rows[-1]
    print(f"RSS after warm-up {warm[1]} MB, at the end {last[1]} MB, "
          f"growth {[round(b - a, 1) for a, b in zip(warm[1], last[1], strict=False)]} MB")
    if warm[2] is not None and last[2] is not None:
        print(f"Redis used_memory after warm-up {warm[2]} MB, at the end {last[2]} MB, "
              f"growth {last[2] - warm[2]:+.1f} MB")


if __name__ == "__main__":
    main()
