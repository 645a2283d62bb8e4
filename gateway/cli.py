"""The `gateway` command: serve, sim, token mint, policy validate."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import httpx
import uvicorn

from gateway.admin.cli import add_admin_commands
from gateway.auth.cli import add_mint_arguments, run_mint
from gateway.metering.cli import add_calls_command
from gateway.metrics import MULTIPROC_ENV
from gateway.policy.cli import add_validate_arguments, run_validate
from gateway.settings import Settings
from gateway.sim import cli as sim_cli

SIMULATOR_KEY = "sk-or-v1-simulator"
NO_KEY_MESSAGE = (
    "gateway: OPENROUTER_API_KEY is not set. Set it to your OpenRouter key, "
    "or run `gateway serve --simulate` to use the built-in OpenRouter simulator."
)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _start_simulator(host: str) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator in a child process, so every gateway worker shares one upstream."""
    port = _free_port(host)
    child = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--host", host, "--port", str(port)])
    base_url = f"http://{host}:{port}/api/v1"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit("gateway: the simulator exited during start-up")
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return child, base_url
        except httpx.HTTPError:
            time.sleep(0.1)
    child.terminate()
    raise SystemExit("gateway: the simulator did not start within 20 s")


def _prepare_metrics_directory() -> None:
    """Create PROMETHEUS_MULTIPROC_DIR and empty it: files from a previous run would be added into this run's counts."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink(missing_ok=True)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    # uvicorn re-raises the stop signal once its graceful shutdown is done; with this handler that ends as a
    # clean exit 0 instead of death by SIGTERM (and a SIGTERM before uvicorn has started exits cleanly too).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # The app ends its open streams just before this grace period runs out (workers read it from the environment).
    os.environ["GATEWAY_GRACEFUL_TIMEOUT_S"] = str(args.graceful_timeout)
    settings = Settings()
    _prepare_metrics_directory()
    child: subprocess.Popen[bytes] | None = None
    if args.simulate:
        child, base_url = _start_simulator("127.0.0.1")
        os.environ["OPENROUTER_BASE_URL"] = base_url
        os.environ["OPENROUTER_API_KEY"] = SIMULATOR_KEY
        print(f"gateway: upstream is the built-in OpenRouter simulator at {base_url}", file=sys.stderr)
    elif settings.openrouter_api_key is None:
        print(NO_KEY_MESSAGE, file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.redis_url:
        print(f"gateway: warning: {args.workers} workers without REDIS_URL each keep their own in-process store, "
              f"so every rate limit and budget is multiplied by {args.workers}; set REDIS_URL to share them.",
              file=sys.stderr)
    try:
        uvicorn.run(
            "gateway.asgi:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http="gateway.edge:EdgeProtocol",  # httptools with header/body timeouts, header bounds, 503 cap
            timeout_keep_alive=settings.keep_alive_timeout_s,
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # nothing here reads the client's address; skip rewriting it per request
            timeout_graceful_shutdown=args.graceful_timeout,
        )
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="OpenAI-compatible LLM gateway in front of OpenRouter")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "1")))
    serve.add_argument("--simulate", action="store_true", help="use the built-in OpenRouter simulator as upstream")
    serve.add_argument("--graceful-timeout", type=float, default=30.0, help="seconds in-flight requests get on stop")
    serve.set_defaults(handler=_serve)

    sim = commands.add_parser("sim", help="run the OpenRouter simulator alone (base URL http://H:P/api/v1)")
    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=lambda args: sim_cli.run(args) or 0)

    token = commands.add_parser("token", help="JWT helpers for development and tests")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    mint = token_commands.add_parser("mint", help="print an HS256 JWT signed with GATEWAY_JWT_SECRET")
    add_mint_arguments(mint)
    mint.set_defaults(handler=lambda args: run_mint(args, Settings()))

    policy = commands.add_parser("policy", help="policy file tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    validate = policy_commands.add_parser("validate", help="check a policy file and report every problem")
    add_validate_arguments(validate)
    validate.set_defaults(handler=run_validate)

    add_admin_commands(commands)
    add_calls_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
