"""`gateway calls`: read the call ledger (the Redis stream, or a JSONL ledger directory) as a table or an export.

Exit codes: 0 done, 1 Redis unreachable or refused the read, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

import orjson
from pydantic import ValidationError
from redis import exceptions as redis_errors

from gateway.admin.connection import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, redacted
from gateway.admin.table import Column, format_usd, render_table
from gateway.metering.export import export_records
from gateway.metering.filters import parse_since, parse_tag_filter
from gateway.metering.jsonl_files import RotatingJsonlFile
from gateway.metering.ledger import newest
from gateway.metering.record import LedgerRecord
from gateway.metering.redis_ledger import RedisStreamLedger
from gateway.redis_client import open_redis
from gateway.settings import Settings

FORMATS = ("table", "json", "csv", "jsonl")
DEFAULT_LIMIT = 100
NO_LEDGER_MESSAGE = (
    "error: no ledger to read. Set REDIS_URL to the gateway's Redis (the shared ledger stream), "
    "or pass --ledger-dir with the directory of a JSONL ledger (GATEWAY_LEDGER_DIR)"
)
TABLE_COLUMNS = (
    Column("request id"),
    Column("time"),
    Column("org"),
    Column("model served"),
    Column("in", "int"),
    Column("out", "int"),
    Column("cost usd", "usd"),
    Column("source"),
    Column("status", "int"),
    Column("latency ms", "int"),
)


class CommandError(Exception):
    """The command cannot run; `code` is its exit status, the message says why."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def since_argument(text: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is UTC (the ledger's timestamps are UTC)."""
    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date or time, e.g. 2025-06-18 or 2025-06-18T12:00:00Z, got {text!r}"
        ) from None


def tag_argument(text: str) -> tuple[str, str]:
    try:
        return parse_tag_filter(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


async def _read_redis(url: str, cluster: bool, stream_key: str, args: argparse.Namespace) -> list[LedgerRecord]:
    try:
        client = open_redis(
            url, cluster=cluster, connect_timeout_s=CONNECT_TIMEOUT_S, socket_timeout_s=COMMAND_TIMEOUT_S
        )
    except ValueError as exc:
        raise CommandError(f"error: REDIS_URL {redacted(url)!r} is not a usable Redis URL: {exc}") from exc
    try:
        return await RedisStreamLedger(client, stream_key=stream_key).read(org=args.org, since=args.since,
                                                                          limit=args.limit, tags=_tags(args))
    except (redis_errors.RedisError, OSError) as exc:
        raise CommandError(f"error: cannot read the ledger from Redis at {redacted(url)}: {exc}", code=1) from exc
    finally:
        await client.aclose()


def _read_directory(directory: Path, args: argparse.Namespace) -> list[LedgerRecord]:
    if not directory.is_dir():
        raise CommandError(f"error: ledger directory {str(directory)!r} does not exist")
    ledger_file = RotatingJsonlFile(directory)
    return newest(ledger_file.records(), args.org, args.since, args.limit, _tags(args))


def _tags(args: argparse.Namespace) -> dict[str, str]:
    return dict(getattr(args, "tag", None) or ())


def read_calls(args: argparse.Namespace) -> list[LedgerRecord]:
    """The newest `--limit` matching records, oldest first, from `--ledger-dir` if given, else REDIS_URL."""
    if args.ledger_dir is not None:
        return _read_directory(Path(args.ledger_dir), args)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise CommandError(f"error: invalid gateway settings in the environment:\n{exc}") from None
    if not settings.redis_url:
        raise CommandError(NO_LEDGER_MESSAGE)
    return asyncio.run(_read_redis(settings.redis_url, settings.redis_cluster, settings.ledger_stream_key, args))


def calls_table(records: Sequence[LedgerRecord]) -> str:
    if not records:
        return "no calls match"
    rows = [
        [r.request_id, r.timestamp, r.org, r.model_served or r.model_routed, r.prompt_tokens, r.completion_tokens,
         r.cost_usd, r.cost_source, r.status, round(r.latency_ms)]
        for r in records
    ]
    total = sum(r.cost_usd for r in records)
    return f"{render_table(TABLE_COLUMNS, rows)}\n{len(records)} call(s), {format_usd(total)} USD"


def write_calls(records: Sequence[LedgerRecord], fmt: str, out: TextIO) -> None:
    if fmt == "table":
        out.write(calls_table(records) + "\n")
    elif fmt == "json":
        out.write(orjson.dumps(list(records), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode())
    else:
        export_records(records, "csv" if fmt == "csv" else "jsonl", out)


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CommandError(f"error: cannot write {path!r}: {exc.strerror}") from exc
    with handle:
        yield handle


def run_calls(args: argparse.Namespace) -> int:
    try:
        records = read_calls(args)
        with _output(args.output) as out:
            write_calls(records, args.format, out)
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    if args.output not in (None, "-"):
        print(f"wrote {len(records)} call(s) to {args.output}", file=sys.stderr)
    return 0


def add_calls_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `calls` on the `gateway` command's subparsers."""
    help_text = "list or export recorded calls from the ledger (Redis stream at REDIS_URL, or --ledger-dir)"
    parser: argparse.ArgumentParser = subparsers.add_parser("calls", help=help_text, description=help_text)
    parser.add_argument("--org", help="only this org's calls")
    parser.add_argument("--since", type=since_argument, metavar="ISO",
                        help="only calls started at or after this UTC date/time (e.g. 2025-06-18T12:00Z)")
    parser.add_argument("--tag", type=tag_argument, action="append", metavar="KEY=VALUE",
                        help="only calls tagged KEY=VALUE (repeatable: every tag must match)")
    parser.add_argument("--limit", type=_limit_argument, default=DEFAULT_LIMIT, metavar="N",
                        help=f"the newest N matching calls, listed oldest first (default {DEFAULT_LIMIT})")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table for people (default); json, csv or jsonl (every ledger field) for tools")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--ledger-dir", metavar="DIR", help="read a JSONL ledger directory instead of Redis")
    parser.set_defaults(handler=run_calls)
