"""`gateway budget|limits|usage`: budgets, rate limits and spend per org, against the gateway's Redis.

Exit codes: 0 done, 1 Redis unreachable or refused the command, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from redis import exceptions as redis_errors

from gateway.admin import render
from gateway.admin.connection import ConnectionSetupError, redacted, redis_limiter
from gateway.admin.output import emit
from gateway.admin.service import AdminService
from gateway.admin.updates import KEEP, BudgetUpdate, LimitsUpdate, check_count, check_usd, is_empty
from gateway.errors import GatewayError, InvalidRequestError
from gateway.policy.errors import PolicyError
from gateway.policy.loader import load_policy
from gateway.policy.policy import Policy
from gateway.settings import Settings

Action = Callable[[AdminService], Awaitable[Any]]
Renderer = Callable[[Any], str]
CLEAR_WORD = "none"
NO_REDIS_MESSAGE = (
    "error: REDIS_URL is not set. The admin commands read and write the gateway's shared Redis; "
    "set it to the same URL the gateway uses, e.g. REDIS_URL=redis://localhost:6379/0"
)


def _usd_argument(text: str) -> float | None:
    if text.strip().lower() == CLEAR_WORD:
        return None
    try:
        return check_usd("value", float(text))
    except (ValueError, GatewayError):
        raise argparse.ArgumentTypeError(f"expected a number of USD >= 0 or '{CLEAR_WORD}', got {text!r}") from None


def _count_argument(text: str) -> int | None:
    if text.strip().lower() == CLEAR_WORD:
        return None
    try:
        return check_count("value", int(text))
    except (ValueError, GatewayError):
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or '{CLEAR_WORD}', got {text!r}") from None


def _date_argument(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


class ConfigurationError(Exception):
    """The environment does not let the command run; the message says what to set."""


def _load_configuration() -> tuple[Settings, Policy]:
    """(settings with a redis url, policy) from the environment, as the gateway itself reads them."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigurationError(f"error: invalid gateway settings in the environment:\n{exc}") from None
    if not settings.redis_url:
        raise ConfigurationError(NO_REDIS_MESSAGE)
    if settings.policy_file is None:
        return settings, Policy.empty()
    try:
        return settings, load_policy(settings.policy_file)
    except PolicyError as exc:
        lines = ["error: GATEWAY_POLICY_FILE is invalid, so policy defaults cannot be shown:", *exc.lines()]
        raise ConfigurationError("\n".join(lines)) from None


async def _perform(settings: Settings, policy: Policy, action: Action) -> Any:
    async with redis_limiter(str(settings.redis_url), cluster=settings.redis_cluster) as limiter:
        return await action(AdminService(limiter, lambda: policy))


def run(args: argparse.Namespace, action: Action, text: Renderer) -> int:
    """Run one admin action (one event loop, one Redis client, closed after) and print its view."""
    try:
        settings, policy = _load_configuration()
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_perform(settings, policy, action))
    except ConnectionSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InvalidRequestError as exc:  # e.g. a tag key the policy does not total
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except GatewayError as exc:  # the limiter's translation of an unreachable Redis
        cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
        where = redacted(str(settings.redis_url))
        print(f"error: cannot reach Redis at {where}: {exc.message}{cause}", file=sys.stderr)
        return 1
    except redis_errors.RedisError as exc:
        print(f"error: Redis at {redacted(str(settings.redis_url))} refused the command: {exc}", file=sys.stderr)
        return 1
    emit(result, as_json=args.json, text=text)
    return 0


def _nothing_to_change(command: str) -> int:
    print(f"error: `{command}` needs at least one option to change (see --help)", file=sys.stderr)
    return 2


def _budget_set(args: argparse.Namespace) -> int:
    update = BudgetUpdate(daily_usd=args.daily_usd, monthly_usd=args.monthly_usd)
    if is_empty(update):
        return _nothing_to_change("gateway budget set")
    return run(args, lambda service: service.set_budget(args.org, update), render.budget_text)


def _limits_set(args: argparse.Namespace) -> int:
    update = LimitsUpdate(rpm=args.rpm, tpm=args.tpm, max_concurrent=args.max_concurrent)
    if is_empty(update):
        return _nothing_to_change("gateway limits set")
    return run(args, lambda service: service.set_limits(args.org, update), render.limits_text)


def _usage(args: argparse.Namespace) -> int:
    return run(args, lambda service: service.usage(args.org, args.since, args.tag, tag_separator="="),
               lambda view: render.usage_text(view, args.by))


def _command(
    commands: argparse._SubParsersAction, name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON (stable keys) instead of a table")
    parser.set_defaults(handler=handler)
    return parser


def _add_budget(subparsers: argparse._SubParsersAction) -> None:
    budget = subparsers.add_parser("budget", help="per-org USD budgets (daily and monthly, UTC)")
    commands = budget.add_subparsers(dest="budget_command", required=True)
    set_ = _command(commands, "set", "override an org's budgets; 'none' clears an override", _budget_set)
    set_.add_argument("org")
    set_.add_argument("--daily-usd", type=_usd_argument, default=KEEP, metavar="USD|none")
    set_.add_argument("--monthly-usd", type=_usd_argument, default=KEEP, metavar="USD|none")
    show = _command(commands, "show", "an org's budgets, spend and percent used",
                    lambda args: run(args, lambda service: service.budget(args.org), render.budget_text))
    show.add_argument("org")
    _command(commands, "list", "budgets of every org with an override or a policy entry",
             lambda args: run(args, _budget_list, render.budget_list_text))
    reset = _command(commands, "reset", "remove an org's budget overrides (spend is kept)",
                     lambda args: run(args, lambda service: service.reset_budget(args.org), render.budget_text))
    reset.add_argument("org")


async def _budget_list(service: AdminService) -> dict[str, Any]:
    return {"orgs": await service.budgets()}


def _add_limits(subparsers: argparse._SubParsersAction) -> None:
    limits = subparsers.add_parser("limits", help="per-org rate limits (requests/tokens per minute, concurrency)")
    commands = limits.add_subparsers(dest="limits_command", required=True)
    set_ = _command(commands, "set", "override an org's rate limits; 'none' clears an override", _limits_set)
    set_.add_argument("org")
    for flag in ("--rpm", "--tpm", "--max-concurrent"):
        set_.add_argument(flag, type=_count_argument, default=KEEP, metavar="N|none")
    show = _command(commands, "show", "an org's rate limits: override, policy default, effective",
                    lambda args: run(args, lambda service: service.limits(args.org), render.limits_text))
    show.add_argument("org")
    reset = _command(commands, "reset", "remove an org's rate limit overrides",
                     lambda args: run(args, lambda service: service.reset_limits(args.org), render.limits_text))
    reset.add_argument("org")


def add_admin_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `budget`, `limits` and `usage` on the `gateway` command's subparsers."""
    _add_budget(subparsers)
    _add_limits(subparsers)
    usage = _command(subparsers, "usage", "an org's spend: today, this month, per model and per day", _usage)
    usage.add_argument("org")
    usage.add_argument("--since", type=_date_argument, metavar="YYYY-MM-DD", help="first day of the per-day list")
    usage.add_argument("--by", choices=("model", "day"), help="show only this breakdown")
    usage.add_argument("--tag", metavar="KEY=VALUE", help="also the totals of one tag the policy totals (run_id=X)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="gateway admin: budgets, limits and usage")
    add_admin_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
