"""Side-by-side benchmark: the same traffic straight to the simulator and through the gateway, in one run.

    python loadtests/bench.py --concurrency 50 --duration 10 --workers 2

Starts `gateway sim` and `gateway serve` as child processes on loopback (or uses --sim-url/--gateway-url),
drives fixed-concurrency non-streaming and streaming chat traffic at each, and prints requests/s,
p50/p99 latency and time to first token for both, with the gateway/direct ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import orjson
import uvloop

from gateway.auth.tokens import mint_token

BENCH_SECRET = "bench-secret-for-local-load-tests-only-0123456789"
SIM_KEY = "sk-or-v1-bench"
# Limits and a budget are on (admission does its full work) but set far above what a bench run can reach.
BENCH_POLICY = """
orgs:
  bench: {rpm: 100000000, tpm: 1000000000000, daily_budget_usd: 1000000, monthly_budget_usd: 1000000}
"""


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not come up")


@contextmanager
def _process(args: list[str], env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_http(ready_url)
        yield child
    finally:
        child.terminate()
        child.wait(timeout=15)


async def _one(session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes,
               stream: bool, result: Result) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                await response.read()
                result.errors += 1
                return
            if stream:
                first = None
                async for line in response.content:
                    if first is None and line.startswith(b"data: {"):
                        first = time.perf_counter() - started
                if first is not None:
                    result.ttfts.append(first)
            else:
                await response.read()
        result.latencies.append(time.perf_counter() - started)
    except aiohttp.ClientError:
        result.errors += 1


async def drive(url: str, headers: dict[str, str], body: bytes, *, stream: bool,
                concurrency: int, duration: float) -> Result:
    result = Result()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await _one(session, url, headers, body, stream, result)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
    return result


def _row(name: str, r: Result) -> str:
    ttft = f"{_pct(r.ttfts, 0.5):8.2f} {_pct(r.ttfts, 0.99):8.2f}" if r.ttfts else f"{'-':>8} {'-':>8}"
    return (f"{name:<22} {r.rps:9.1f} {_pct(r.latencies, 0.5):8.2f} {_pct(r.latencies, 0.99):8.2f} "
            f"{ttft} {r.errors:6d}")


async def run_all(args: argparse.Namespace, sim_url: str, gateway_url: str, passthrough_url: str | None) -> None:
    token = mint_token(BENCH_SECRET, org="bench", subject="bench", ttl_s=3600)
    messages = [{"role": "user", "content": "Say something short about load tests."}]
    plain = orjson.dumps({"model": args.model, "messages": messages, "max_tokens": args.max_tokens})
    streamed = orjson.dumps({"model": args.model, "messages": messages, "max_tokens": args.max_tokens,
                             "stream": True})
    direct_headers = {"authorization": f"Bearer {SIM_KEY}", "content-type": "application/json"}
    gateway_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    print(f"concurrency={args.concurrency} duration={args.duration}s per cell, model={args.model}, "
          f"sim ttft={args.ttft_ms}ms inter-token={args.inter_token_ms}ms, gateway workers={args.workers}")
    print(f"{'cell':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ttft50':>8} {'ttft99':>8} {'errors':>6}")
    for label, body, stream in (("json", plain, False), ("stream", streamed, True)):
        cells = {"direct": (f"{sim_url}/chat/completions", direct_headers)}
        if passthrough_url:
            cells["passthrough"] = (f"{passthrough_url}/chat/completions", direct_headers)
        cells["gateway"] = (f"{gateway_url}/chat/completions", gateway_headers)
        results = {}
        for name, (url, headers) in cells.items():
            results[name] = await drive(url, headers, body, stream=stream, concurrency=args.concurrency,
                                        duration=args.duration)
            print(_row(f"{label} {name}", results[name]), flush=True)
        via = results["gateway"]
        for base_name in [name for name in results if name != "gateway"]:
            base = results[base_name]
            ratio = via.rps / base.rps if base.rps else float("nan")
            added = _pct(via.latencies, 0.5) - _pct(base.latencies, 0.5)
            line = f"{label} gateway vs {base_name}: throughput {ratio:.1%}, p50 added {added:.2f} ms"
            if stream:
                line += f", ttft p50 added {_pct(via.ttfts, 0.5) - _pct(base.ttfts, 0.5):.2f} ms"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="openai/gpt-4o-mini")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--inter-token-ms", type=float, default=0.0)
    parser.add_argument("--sim-url", help="use a running simulator (…/api/v1) instead of starting one")
    parser.add_argument("--gateway-url", help="use a running gateway (…/v1) instead of starting one")
    parser.add_argument("--no-passthrough", action="store_true",
                        help="skip the bare Starlette+aiohttp passthrough yardstick")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="shared store for the gateway (default $REDIS_URL; unset = in-process store)")
    args = parser.parse_args()
    uvloop.install()

    policy = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115 - lives for the run
    policy.write(BENCH_POLICY)
    policy.close()
    env = {**os.environ, "GATEWAY_JWT_SECRET": BENCH_SECRET, "GATEWAY_ACCESS_LOG": "false",
           "GATEWAY_POLICY_FILE": policy.name}
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    sim_port, gateway_port = _free_port(), _free_port()
    sim_url = args.sim_url or f"http://127.0.0.1:{sim_port}/api/v1"
    gateway_url = args.gateway_url or f"http://127.0.0.1:{gateway_port}/v1"
    env.update(OPENROUTER_BASE_URL=sim_url, OPENROUTER_API_KEY=SIM_KEY)
    sim_cmd = [sys.executable, "-m", "gateway", "sim", "--port", str(sim_port),
               "--ttft-ms", str(args.ttft_ms), "--inter-token-ms", str(args.inter_token_ms)]
    gateway_cmd = [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port),
                   "--workers", str(args.workers)]
    passthrough_port = _free_port()
    passthrough_url = None if args.no_passthrough else f"http://127.0.0.1:{passthrough_port}/v1"
    passthrough_cmd = [sys.executable, "-m", "uvicorn", "loadtests.passthrough:app", "--port", str(passthrough_port),
                       "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
                       "--log-level", "warning", "--no-access-log"]
    with _maybe(not args.sim_url, sim_cmd, env, f"{sim_url}/models"), \
            _maybe(not args.gateway_url, gateway_cmd, env, f"{gateway_url.removesuffix('/v1')}/healthz"), \
            _maybe(passthrough_url is not None, passthrough_cmd, env, f"http://127.0.0.1:{passthrough_port}/healthz"):
        asyncio.run(run_all(args, sim_url, gateway_url, passthrough_url))


@contextmanager
def _maybe(start: bool, cmd: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    if not start:
        yield
        return
    with _process(cmd, env, ready_url):
        yield


if __name__ == "__main__":
    main()
