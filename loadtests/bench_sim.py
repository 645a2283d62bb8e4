"""The simulator-driven mode of loadtests/bench.py: realistic answers, a Python load client.

Starts `gateway sim`, the bare passthrough and, one after another, `gateway serve` in each configuration asked for;
drives the same fixed-concurrency non-streaming and streaming chat traffic at each with an aiohttp client, and prints
requests/s, p50/p99 latency and time to first token, with every gateway configuration's ratio to the simulator and
to the passthrough. The headline figures come from the canned mode (loadtests/bench_canned.py) instead, where a C
load generator and a near-free upstream leave the proxies' own cost visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from gateway.auth.tokens import mint_token
from loadtests.launch import free_port, maybe

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
    return (f"{name:<30} {r.rps:9.1f} {_pct(r.latencies, 0.5):8.2f} {_pct(r.latencies, 0.99):8.2f} "
            f"{ttft} {r.errors:6d}")


# Gateway configurations benchmarked one after another: everything on, then the features that cost most turned off,
# so the price of each is visible. Values are environment overrides; None removes the variable.
VARIANTS: dict[str, dict[str, str | None]] = {
    "all-on": {"GATEWAY_ACCESS_LOG": "true"},
    "no-access-log": {"GATEWAY_ACCESS_LOG": "false"},
    "in-process": {"GATEWAY_ACCESS_LOG": "false", "REDIS_URL": None},
}


@dataclass(frozen=True)
class Traffic:
    label: str
    body: bytes
    stream: bool


def _traffic(args: argparse.Namespace) -> list[Traffic]:
    messages = [{"role": "user", "content": "Say something short about load tests."}]
    base = {"model": args.model, "messages": messages, "max_tokens": args.max_tokens}
    return [Traffic("json", orjson.dumps(base), False), Traffic("stream", orjson.dumps({**base, "stream": True}), True)]


async def run_cells(args: argparse.Namespace, cells: dict[str, tuple[str, dict[str, str]]],
                    results: dict[tuple[str, str], Result]) -> None:
    for traffic in _traffic(args):
        for name, (url, headers) in cells.items():
            result = await drive(f"{url}/chat/completions", headers, traffic.body, stream=traffic.stream,
                                 concurrency=args.concurrency, duration=args.duration)
            results[(traffic.label, name)] = result
            print(_row(f"{traffic.label} {name}", result), flush=True)


def compare(results: dict[tuple[str, str], Result]) -> None:
    names = list(dict.fromkeys(name for _, name in results))
    bases = [name for name in names if not name.startswith("gateway")]
    for label in dict.fromkeys(label for label, _ in results):
        for via_name in [name for name in names if name.startswith("gateway")]:
            via = results[(label, via_name)]
            for base_name in bases:
                base = results[(label, base_name)]
                ratio = via.rps / base.rps if base.rps else float("nan")
                added = _pct(via.latencies, 0.5) - _pct(base.latencies, 0.5)
                line = f"{label} {via_name} vs {base_name}: throughput {ratio:.1%}, p50 added {added:.2f} ms"
                if via.ttfts and base.ttfts:
                    line += f", ttft p50 added {_pct(via.ttfts, 0.5) - _pct(base.ttfts, 0.5):.2f} ms"
                print(line)


def run_sim(args: argparse.Namespace, variants: list[str], scratch: Path) -> None:
    """The simulator-driven comparison: direct, passthrough, then each gateway configuration."""
    policy = scratch / "policy.yaml"
    policy.write_text(BENCH_POLICY)
    metrics_dir = scratch / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "GATEWAY_JWT_SECRET": BENCH_SECRET, "GATEWAY_POLICY_FILE": str(policy),
           # Several workers need multiprocess metrics to be right; `gateway serve` empties the directory at start.
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    sim_port = free_port()
    sim_url = args.sim_url or f"http://127.0.0.1:{sim_port}/api/v1"
    env.update(OPENROUTER_BASE_URL=sim_url, OPENROUTER_API_KEY=SIM_KEY)
    sim_cmd = [sys.executable, "-m", "gateway", "sim", "--port", str(sim_port),
               "--ttft-ms", str(args.ttft_ms), "--inter-token-ms", str(args.inter_token_ms)]
    passthrough_port = free_port()
    passthrough_url = None if args.no_passthrough else f"http://127.0.0.1:{passthrough_port}/v1"
    passthrough_cmd = [sys.executable, "-m", "uvicorn", "loadtests.passthrough:app", "--port", str(passthrough_port),
                       "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
                       "--log-level", "warning", "--no-access-log"]
    token = mint_token(BENCH_SECRET, org="bench", subject="bench", ttl_s=3600)
    direct_headers = {"authorization": f"Bearer {SIM_KEY}", "content-type": "application/json"}
    gateway_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    print(f"concurrency={args.concurrency} duration={args.duration}s per cell, model={args.model}, "
          f"sim ttft={args.ttft_ms}ms inter-token={args.inter_token_ms}ms, workers={args.workers}, "
          f"redis={args.redis_url or 'none'}")
    print(f"{'cell':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ttft50':>8} {'ttft99':>8} {'errors':>6}")
    results: dict[tuple[str, str], Result] = {}
    with maybe(not args.sim_url, sim_cmd, env, f"{sim_url}/models"):
        baselines = {"direct": (sim_url, direct_headers)}
        with maybe(passthrough_url is not None, passthrough_cmd, env, f"http://127.0.0.1:{passthrough_port}/healthz"):
            if passthrough_url:
                baselines["passthrough"] = (passthrough_url, direct_headers)
            asyncio.run(run_cells(args, baselines, results))
        if args.gateway_url:
            asyncio.run(run_cells(args, {"gateway": (args.gateway_url, gateway_headers)}, results))
        else:
            for variant in variants:
                port = free_port()
                variant_env = {**env, **{k: v for k, v in VARIANTS[variant].items() if v is not None}}
                for name in [k for k, v in VARIANTS[variant].items() if v is None]:
                    variant_env.pop(name, None)
                cmd = [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(args.workers)]
                with maybe(True, cmd, variant_env, f"http://127.0.0.1:{port}/healthz"):
                    cells = {f"gateway {variant}": (f"http://127.0.0.1:{port}/v1", gateway_headers)}
                    asyncio.run(run_cells(args, cells, results))
    compare(results)


