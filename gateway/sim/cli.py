"""`gateway sim`: command-line flags for every SimConfig knob, and running the simulator under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from gateway.gc_tuning import tune_for_serving
from gateway.sim.app import create_sim_app
from gateway.sim.config import SimConfig

# flag -> (SimConfig field, type, help); generated flags keep the CLI and the config from drifting apart.
_KNOBS: list[tuple[str, str, type, str]] = [
    ("--ttft-ms", "ttft_ms", float, "time to first token (ms)"),
    ("--inter-token-ms", "inter_token_ms", float, "delay per token after the first (ms)"),
    ("--chunk-tokens", "chunk_tokens", int, "tokens per streamed content delta"),
    ("--processing-comments", "processing_comments", int, "': OPENROUTER PROCESSING' comments before the first event"),
    ("--keepalive-ms", "keepalive_ms", float, "interval of keep-alive comments while idle (0 = off)"),
    ("--seed", "seed", int, "seed of the random fault mode"),
    ("--max-concurrency", "max_concurrency", int, "in-flight requests before 429 (0 = unlimited)"),
    ("--credits-usd", "credits_usd", float, "account credits; the balance drives 402"),
    ("--generation-delay-ms", "generation_delay_ms", float, "delay before /generation answers 200"),
    ("--free-rpm", "free_rpm", int, ":free requests per minute"),
    ("--free-rpd", "free_rpd", int, ":free requests per day"),
]


def _fault_rate(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected STATUS=P, e.g. 503=0.05")
    try:
        return name, float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"probability {value!r} is not a number") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    for flag, field, kind, text in _KNOBS:
        parser.add_argument(flag, dest=field, type=kind, default=None, help=text)
    parser.add_argument("--usage-chunk", choices=["empty_choices", "empty_delta", "merged"], default=None,
                        help="shape of the final streamed usage chunk")
    parser.add_argument("--done-after-error", action="store_true", default=None,
                        help="send data: [DONE] after a mid-stream error chunk")
    parser.add_argument("--fault-rate", dest="fault_rates", action="append", type=_fault_rate, default=None,
                        metavar="STATUS=P", help="random fault probability per status or kind (repeatable)")
    parser.add_argument("--api-key", dest="api_keys", action="append", default=None,
                        help="accept only these keys (repeatable; default: any key starting with sk-or-)")
    parser.add_argument("--credits-need-management-key", action="store_true", default=None,
                        help="answer /credits with 403 for normal keys")


def build_config(args: argparse.Namespace) -> SimConfig:
    """Only flags that were given override SimConfig's defaults."""
    values: dict[str, Any] = {}
    for field in SimConfig.model_fields:
        value = getattr(args, field, None)
        if value is not None:
            values[field] = dict(value) if field == "fault_rates" else value
    return SimConfig.model_validate(values)


def run(args: argparse.Namespace) -> None:
    config = build_config(args)
    print(f"OpenRouter simulator on http://{args.host}:{args.port}/api/v1", flush=True)
    app = create_sim_app(config)
    tune_for_serving()  # the simulator must not be the bottleneck of a load test
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)
