"""The headline mode of loadtests/bench.py: `wrk` against a near-free canned upstream, gateway beside passthrough.

Starts the canned upstream (loadtests/canned.py), the bare Starlette + aiohttp passthrough and the gateway with
everything on (JWT, Redis admission and settlement, the Redis ledger, multiprocess metrics, policy, the access
log), optionally a second gateway on a Redis Cluster, and measures each in turn with the same `wrk` traffic:
requests/s, CPU ms per request of the server's whole process tree, Redis's own CPU and memory per request, p50/p99;
then the p50 each adds at a fixed upstream delay at several concurrencies, time to first token (a Python client at
concurrency 1) and RSS per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import redis

from gateway.auth.tokens import mint_token
from loadtests import wrk
from loadtests.bench_canned_report import print_report
from loadtests.bench_sim import BENCH_POLICY, BENCH_SECRET, SIM_KEY, drive
from loadtests.launch import free_port, process
from loadtests.meters import redis_sample, tree_cpu_s, worker_rss_mb


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # …/v1
    pid: int
    headers: dict[str, str]
    redis_urls: list[str]  # whose CPU and memory this server's calls cost (every node of a cluster)


@dataclass
class Cell:
    kind: str  # json | stream
    delay_ms: float
    concurrency: int
    server: str
    requests: int
    rps: float
    cpu_ms_per_request: float
    p50_ms: float
    p99_ms: float
    errors: int
    redis_cpu_ms_per_request: float | None
    redis_bytes_per_request: float | None


@dataclass
class Report:
    settings: dict[str, object]
    cells: list[Cell] = field(default_factory=list)
    ttft_p50_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, list[float]] = field(default_factory=dict)


def _body(model: str, max_tokens: int, *, stream: bool) -> bytes:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": "Say something short."}],
                               "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def _set_delay(canned_url: str, delay_ms: float) -> None:
    request = urllib.request.Request(f"{canned_url}/control", data=orjson.dumps({"delay_ms": delay_ms}),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


def measure(server: Server, body: bytes, kind: str, *, delay_ms: float, concurrency: int, duration_s: float,
            scratch: Path) -> Cell:
    script = wrk.write_script(scratch / f"{server.name.replace(' ', '-')}-{kind}.lua", body,
                              {**server.headers, "content-type": "application/json"})
    redis_before = redis_sample(server.redis_urls) if server.redis_urls else None
    cpu_before = tree_cpu_s(server.pid)
    result = wrk.run(f"{server.url}/chat/completions", script, connections=concurrency, duration_s=duration_s)
    cpu = tree_cpu_s(server.pid) - cpu_before
    requests = max(result.requests, 1)
    redis_cpu = redis_bytes = None
    if redis_before is not None:
        redis_after = redis_sample(server.redis_urls)
        redis_cpu = (redis_after.cpu_s - redis_before.cpu_s) * 1000 / requests
        redis_bytes = (redis_after.used_memory - redis_before.used_memory) / requests
    return Cell(kind, delay_ms, concurrency, server.name, result.requests, result.rps, cpu * 1000 / requests,
                result.p50_ms, result.p99_ms, result.errors + result.status_errors, redis_cpu, redis_bytes)


def _ttft_p50_ms(server: Server, body: bytes, duration_s: float) -> float:
    result = asyncio.run(drive(f"{server.url}/chat/completions", {**server.headers,
                                                                  "content-type": "application/json"},
                               body, stream=True, concurrency=1, duration=duration_s))
    ordered = sorted(result.ttfts)
    return ordered[len(ordered) // 2] * 1000 if ordered else float("nan")


def _cluster_nodes(url: str) -> list[str]:
    client = redis.RedisCluster.from_url(url)
    try:
        return [f"redis://{node.host}:{node.port}" for node in client.get_primaries()]
    finally:
        client.close()


@contextmanager
def _cluster_url(args: argparse.Namespace) -> Iterator[str]:
    if args.redis_cluster_url:
        yield args.redis_cluster_url
        return
    from tests.redis_cluster import redis_cluster  # the test suite's three-node cluster, started for this run

    with redis_cluster() as url:
        yield url


def _start_servers(args: argparse.Namespace, stack: ExitStack, canned_api: str) -> list[Server]:
    env = dict(args.env, OPENROUTER_BASE_URL=canned_api, OPENROUTER_API_KEY=SIM_KEY)
    direct = {"authorization": f"Bearer {SIM_KEY}"}
    port = free_port()
    passthrough = stack.enter_context(process(
        [sys.executable, "-m", "uvicorn", "loadtests.passthrough:app", "--port", str(port), "--workers",
         str(args.workers), "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"],
        env, f"http://127.0.0.1:{port}/healthz"))
    servers = [Server("passthrough", f"http://127.0.0.1:{port}/v1", passthrough.pid, direct, [])]
    token = mint_token(BENCH_SECRET, org="bench", subject="bench", ttl_s=3600)
    stores = [("gateway", args.redis_url, False)] + ([("gateway cluster", None, True)] if args.cluster else [])
    for name, redis_url, cluster in stores:
        if cluster:
            redis_url = stack.enter_context(_cluster_url(args))
        gateway_env = {**env, "REDIS_URL": redis_url, "GATEWAY_REDIS_CLUSTER": "true" if cluster else "false",
                       "GATEWAY_ACCESS_LOG": "true",
                       "PROMETHEUS_MULTIPROC_DIR": str(args.scratch / f"metrics-{name.replace(' ', '-')}")}
        Path(gateway_env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
        port = free_port()
        gateway = stack.enter_context(process(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(args.workers)],
            gateway_env, f"http://127.0.0.1:{port}/healthz"))
        nodes = _cluster_nodes(redis_url) if cluster else [redis_url]
        servers.append(Server(name, f"http://127.0.0.1:{port}/v1", gateway.pid,
                              {"authorization": f"Bearer {token}"}, nodes))
    return servers


def run_canned(args: argparse.Namespace, scratch: Path) -> Report:
    policy = scratch / "policy.yaml"
    policy.write_text(BENCH_POLICY)
    args.scratch = scratch
    args.env = {key: value for key, value in args.base_env.items() if key != "REDIS_URL"}
    args.env.update(GATEWAY_JWT_SECRET=BENCH_SECRET, GATEWAY_POLICY_FILE=str(policy))
    concurrencies = [int(c) for c in args.latency_concurrency.split(",") if c.strip()]
    report = Report(settings={
        "concurrency": args.concurrency, "duration_s": args.duration, "workers": args.workers,
        "delay_ms": args.delay_ms, "latency_concurrency": concurrencies, "latency_duration_s": args.latency_duration,
        "redis": args.redis_url, "cluster": bool(args.cluster)})
    json_body = _body(args.model, args.max_tokens, stream=False)
    stream_body = _body(args.model, args.max_tokens, stream=True)
    canned_port = free_port()
    canned = f"http://127.0.0.1:{canned_port}"
    with ExitStack() as stack:
        stack.enter_context(process([sys.executable, "-m", "loadtests.canned", "--port", str(canned_port)],
                                    args.env, f"{canned}/healthz"))
        servers = _start_servers(args, stack, f"{canned}/api/v1")
        if args.warmup > 0:
            for server in servers:
                measure(server, json_body, "warmup", delay_ms=0, concurrency=min(args.concurrency, 10),
                        duration_s=args.warmup, scratch=scratch)
        for kind, body in (("json", json_body), ("stream", stream_body)):
            for server in servers:
                report.cells.append(measure(server, body, kind, delay_ms=0, concurrency=args.concurrency,
                                            duration_s=args.duration, scratch=scratch))
        _set_delay(canned, args.delay_ms)
        for concurrency in concurrencies:
            for server in servers:
                report.cells.append(measure(server, json_body, "json", delay_ms=args.delay_ms,
                                            concurrency=concurrency, duration_s=args.latency_duration,
                                            scratch=scratch))
        for server in servers[:2]:  # the passthrough and the standalone gateway
            report.ttft_p50_ms[server.name] = _ttft_p50_ms(server, stream_body, args.ttft_duration)
        for server in servers:
            report.rss_mb[server.name] = worker_rss_mb(server.pid)
    return report


def emit(report: Report, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**asdict(report)}, indent=2))
    else:
        print_report(report)
