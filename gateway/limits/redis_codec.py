"""Arguments for, and replies of, the limits' Lua scripts: Redis truncates Lua numbers, so both travel as strings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from gateway.limits.types import BudgetAlert, Period, from_nano, to_nano


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def optional(value: float | int | None) -> str:
    return "" if value is None else str(value)


def optional_nano(usd: float | None) -> str:
    return "" if usd is None else str(to_nano(usd))


def int_or_none(value: str) -> int | None:
    return None if value == "" else int(value)


def ms_or_none(value: str) -> float | None:
    return None if value == "" else float(value) / 1000


def pairs(flat: Sequence[object]) -> dict[str, int]:
    items = [text(v) for v in flat]
    return {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}


def alerts(org: str, fields: list[str]) -> list[BudgetAlert]:
    """Alerts from a script's flat reply: period, period key, threshold, spent nano, budget nano, repeated."""
    return [
        BudgetAlert(
            org=org,
            period=cast(Period, fields[i]),
            period_key=fields[i + 1],
            threshold=int(fields[i + 2]),
            spent_usd=from_nano(int(fields[i + 3])),
            budget_usd=from_nano(int(fields[i + 4])),
        )
        for i in range(0, len(fields), 5)
    ]
