"""Changes an admin asks for, validated once for both the CLI and the HTTP API.

A field can be set to a value, cleared (None: the policy default applies again) or left as it is (KEEP).
The limiter replaces a whole part (budget or limits) at a time, so an update is merged into the stored
override before it is written; that keeps `budget set ORG --daily-usd 5` from dropping the monthly override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Literal, TypeVar

from gateway.errors import InvalidRequestError
from gateway.limits.types import Budget, RateLimits


class Unchanged(Enum):
    KEEP = "keep"


KEEP = Unchanged.KEEP
T = TypeVar("T")
Change = T | None | Literal[Unchanged.KEEP]

BUDGET_KEYS = ("daily_usd", "monthly_usd")
LIMIT_KEYS = ("rpm", "tpm", "max_concurrent")


def check_usd(name: str, value: object) -> float:
    """A budget in USD: a finite number >= 0 (zero is a deliberate freeze on all spend)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"'{name}' must be a number of USD or null", param=name)
    if not math.isfinite(value) or value < 0:
        raise InvalidRequestError(f"'{name}' must be a finite number >= 0", param=name)
    return float(value)


def check_count(name: str, value: object) -> int:
    """A rate limit: a whole number >= 1 (to stop an org entirely, set a zero budget instead)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"'{name}' must be an integer or null", param=name)
    if value < 1:
        raise InvalidRequestError(f"'{name}' must be >= 1", param=name)
    return value


def _merge(change: Change[T], current: T | None) -> T | None:
    return current if change is KEEP else change


@dataclass(frozen=True)
class BudgetUpdate:
    daily_usd: Change[float] = KEEP
    monthly_usd: Change[float] = KEEP

    def applied_to(self, current: Budget | None) -> Budget:
        stored = current or Budget()
        return Budget(
            daily_usd=_merge(self.daily_usd, stored.daily_usd),
            monthly_usd=_merge(self.monthly_usd, stored.monthly_usd),
        )


@dataclass(frozen=True)
class LimitsUpdate:
    rpm: Change[int] = KEEP
    tpm: Change[int] = KEEP
    max_concurrent: Change[int] = KEEP

    def applied_to(self, current: RateLimits | None) -> RateLimits:
        stored = current or RateLimits()
        return RateLimits(
            rpm=_merge(self.rpm, stored.rpm),
            tpm=_merge(self.tpm, stored.tpm),
            max_concurrent=_merge(self.max_concurrent, stored.max_concurrent),
        )


def is_empty(update: BudgetUpdate | LimitsUpdate) -> bool:
    return all(getattr(update, field.name) is KEEP for field in fields(update))


def _checked_body(body: object, allowed: tuple[str, ...]) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object")
    for key in body:
        if key not in allowed:
            raise InvalidRequestError(f"Unknown field '{key}'; expected any of {', '.join(allowed)}", param=key)
    if not body:
        raise InvalidRequestError(f"The request body must set at least one of {', '.join(allowed)}")
    return body


def budget_update_from_body(body: object) -> BudgetUpdate:
    """`{"daily_usd": x|null, "monthly_usd": y|null}`; a key left out keeps its current override."""
    data = _checked_body(body, BUDGET_KEYS)
    changes = {key: None if data[key] is None else check_usd(key, data[key]) for key in data}
    return BudgetUpdate(**changes)  # type: ignore[arg-type]


def limits_update_from_body(body: object) -> LimitsUpdate:
    """`{"rpm": n|null, "tpm": n|null, "max_concurrent": n|null}`; a key left out keeps its current override."""
    data = _checked_body(body, LIMIT_KEYS)
    changes = {key: None if data[key] is None else check_count(key, data[key]) for key in data}
    return LimitsUpdate(**changes)  # type: ignore[arg-type]
