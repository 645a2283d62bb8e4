"""`gateway keys create|list|show|revoke`: API keys against the gateway's Redis (shown once, stored hashed).

Exit codes as the other admin commands: 0 done, 1 Redis unreachable or refused, 2 usage or configuration error
(or, for show/revoke, no such key).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from redis import exceptions as redis_errors

from gateway.admin.connection import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, redacted
from gateway.admin.output import emit
from gateway.admin.table import Column, render_table
from gateway.errors import GatewayError
from gateway.keys.service import KeyRequest, KeyService, View
from gateway.keys.store import RedisApiKeyStore
from gateway.keys.validation import parse_expiry
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.redis_client import open_redis
from gateway.settings import Settings

Action = Callable[[KeyService], Awaitable[View | None]]
NO_REDIS = "error: REDIS_URL is not set. API keys live in the gateway's shared Redis; set it to the gateway's URL"
_COLUMNS = (Column("id"), Column("prefix"), Column("name"), Column("org"), Column("subject"), Column("rpm", "int"),
            Column("tpm", "int"), Column("daily_usd", "usd"), Column("monthly_usd", "usd"), Column("expires_at"),
            Column("last_used_at"), Column("spent_usd", "usd"), Column("status"))


def _row(view: View) -> list[Any]:
    status = "revoked" if view["revoked"] else "active"
    return [view["id"], view["prefix"], view["name"], view["org"], view["subject"], view["rpm"], view["tpm"],
            view["daily_usd"], view["monthly_usd"], view["expires_at"], view["last_used_at"], view["spent_usd"],
            status]


def _table(views: list[View]) -> str:
    return render_table(_COLUMNS, [_row(view) for view in views])


async def _perform(url: str, cluster: bool, action: Action) -> View | None:
    client = open_redis(url, cluster=cluster, connect_timeout_s=CONNECT_TIMEOUT_S, socket_timeout_s=COMMAND_TIMEOUT_S)
    limiter = RedisLimiterBackend(client)
    try:
        return await action(KeyService(RedisApiKeyStore(client), limiter))
    finally:
        await limiter.aclose()
        await client.aclose()


def _run(args: argparse.Namespace, action: Action, text: Callable[[View], str]) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid gateway settings in the environment:\n{exc}", file=sys.stderr)
        return 2
    if not settings.redis_url:
        print(NO_REDIS, file=sys.stderr)
        return 2
    url = str(settings.redis_url)
    try:
        view = asyncio.run(_perform(url, settings.redis_cluster, action))
    except ValueError as exc:
        print(f"error: REDIS_URL {redacted(url)!r} is not a usable Redis URL: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"error: cannot reach Redis at {redacted(url)}: {exc.message}", file=sys.stderr)
        return 1
    except redis_errors.RedisError as exc:
        print(f"error: Redis at {redacted(url)} refused the command: {exc}", file=sys.stderr)
        return 1
    if view is None:
        print(f"error: no API key '{args.id}' in organization '{args.org}'", file=sys.stderr)
        return 2
    emit(view, as_json=args.json, text=text)
    return 0


def _created_text(view: View) -> str:
    return "\n".join([view["key"], "", "This key is shown once and stored only as a hash: keep it now.", "",
                      _table([view])])


def _create(args: argparse.Namespace) -> int:
    expires = None
    if args.expires is not None:
        try:
            expires = parse_expiry(args.expires, datetime.now(UTC))
        except GatewayError as exc:
            print(f"error: --expires: {exc.message}", file=sys.stderr)
            return 2
    request = KeyRequest(org=args.org, name=args.name or "", subject=args.sub, roles=tuple(args.role), rpm=args.rpm,
                         tpm=args.tpm, daily_usd=args.daily_usd, monthly_usd=args.monthly_usd, expires_at=expires)
    return _run(args, lambda service: service.create(request), _created_text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of USD >= 0, got {text!r}")
    return value


def _command(commands: argparse._SubParsersAction, name: str, help_text: str,
             handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--org", required=True, help="the organization the key belongs to")
    parser.set_defaults(handler=handler)
    return parser


def add_keys_command(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="API keys: long-lived credentials with their own limits")
    commands = keys.add_subparsers(dest="keys_command", required=True)
    create = _command(commands, "create", "create a key and print it (once)", _create)
    create.add_argument("--sub", help="subject the key acts as (default: the key itself)")
    create.add_argument("--role", action="append", default=[], help="role to grant; repeat for several")
    create.add_argument("--name", help="a label people recognise the key by")
    create.add_argument("--rpm", type=_positive_int, help="the key's own requests per minute")
    create.add_argument("--tpm", type=_positive_int, help="the key's own tokens per minute")
    create.add_argument("--daily-usd", type=_usd, help="the key's own budget per UTC day")
    create.add_argument("--monthly-usd", type=_usd, help="the key's own budget per UTC month")
    create.add_argument("--expires", metavar="DATE", help="YYYY-MM-DD (end of that UTC day) or an ISO 8601 time")
    _command(commands, "list", "an org's keys: prefix, name, limits, last use, spend",
             lambda args: _run(args, lambda service: service.list(args.org), lambda view: _table(view["data"])))
    show = _command(commands, "show", "one key", lambda args: _run(
        args, lambda service: service.show(args.org, args.id), lambda view: _table([view])))
    show.add_argument("id")
    revoke = _command(commands, "revoke", "revoke a key (every replica refuses it within a second)",
                      lambda args: _run(args, lambda service: service.revoke(args.org, args.id),
                                        lambda view: f"revoked {view['id']} at {view['revoked_at']}"))
    revoke.add_argument("id")
