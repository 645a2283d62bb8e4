"""Side-by-side benchmark: the gateway and a bare Starlette + aiohttp passthrough, in one run.

    python loadtests/bench.py --concurrency 50 --duration 10 --workers 2 [--cluster] [--json]
    python loadtests/bench.py --upstream sim --variants all-on,no-access-log,in-process

`--upstream canned` (the default, the headline figures): `wrk` against a near-free canned-answer upstream
(loadtests/canned.py), so the numbers show the proxies and not the load generator or an upstream. For the
passthrough and the gateway with everything on (JWT, Redis admission and settlement, Redis ledger, metrics, policy,
the access log) it reports requests/s, CPU ms per request of each server's process tree, Redis's own CPU and memory
per request, p50/p99, streams/s and CPU per stream, the p50 added at a fixed upstream delay (`--delay-ms`) at each
`--latency-concurrency`, time to first token and RSS per worker; `--cluster` adds the gateway on a three-node
Redis Cluster (started for the run, or `--redis-cluster-url`). Needs `wrk` (apt-get install wrk).

`--upstream sim`: the simulator-driven mode (realistic answers, an aiohttp load client; loadtests/bench_sim.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import uvloop

# Run as a file (python loadtests/bench.py), the repository root is not on the path; its siblings need it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.bench_canned import emit, run_canned
from loadtests.bench_sim import VARIANTS, run_sim


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", choices=("canned", "sim"), default="canned")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="openai/gpt-4o-mini")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13",
                        help="shared store for the gateway (default $REDIS_URL, else local db 13; '' = in-process)")
    canned = parser.add_argument_group("canned mode")
    canned.add_argument("--delay-ms", type=float, default=50.0, help="upstream delay for the added-latency cells")
    canned.add_argument("--latency-concurrency", default="1,10,50", help="concurrencies of the added-latency cells")
    canned.add_argument("--latency-duration", type=float, default=5.0, help="seconds per added-latency cell")
    canned.add_argument("--ttft-duration", type=float, default=3.0, help="seconds of time-to-first-token probes")
    canned.add_argument("--warmup", type=float, default=1.0, help="seconds of traffic per server before measuring")
    canned.add_argument("--cluster", action="store_true", help="also the gateway on a three-node Redis Cluster")
    canned.add_argument("--redis-cluster-url", help="a running cluster's node for --cluster (else one is started)")
    canned.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    sim = parser.add_argument_group("sim mode")
    sim.add_argument("--ttft-ms", type=float, default=0.0)
    sim.add_argument("--inter-token-ms", type=float, default=0.0)
    sim.add_argument("--sim-url", help="use a running simulator (…/api/v1) instead of starting one")
    sim.add_argument("--gateway-url", help="use a running gateway (…/v1) instead of starting any")
    sim.add_argument("--no-passthrough", action="store_true",
                     help="skip the bare Starlette+aiohttp passthrough yardstick")
    sim.add_argument("--variants", default="all-on",
                     help=f"comma-separated gateway configurations to run, of: {', '.join(VARIANTS)}")
    return parser


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    if unknown := [name for name in variants if name not in VARIANTS]:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.upstream == "canned" and not args.redis_url:
        parser.error("the canned mode measures the gateway with Redis: give --redis-url")
    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as scratch:  # policy, metrics, wrk scripts
        if args.upstream == "sim":
            run_sim(args, variants, Path(scratch))
        else:
            args.base_env = dict(os.environ)
            emit(run_canned(args, Path(scratch)), as_json=args.json)


if __name__ == "__main__":
    main()
