"""Admin overrides as flat fields (the Redis hash layout; the in-process backend keeps the same dict).

Only fields that are set are stored, so a field left None keeps following the policy default.
"""

from __future__ import annotations

from gateway.limits.types import Budget, RateLimits, from_nano, to_nano

LIMIT_FIELDS = ("rpm", "tpm", "max_concurrent")
BUDGET_FIELDS = ("daily_nano", "monthly_nano")


def encode_limits(limits: RateLimits) -> dict[str, str]:
    values = {"rpm": limits.rpm, "tpm": limits.tpm, "max_concurrent": limits.max_concurrent}
    return {name: str(value) for name, value in values.items() if value is not None}


def encode_budget(budget: Budget) -> dict[str, str]:
    values = {"daily_nano": budget.daily_usd, "monthly_nano": budget.monthly_usd}
    return {name: str(to_nano(value)) for name, value in values.items() if value is not None}


def decode_overrides(fields: dict[str, str]) -> tuple[RateLimits | None, Budget | None]:
    """(limits, budget); a part is None when none of its fields is overridden."""

    def count(name: str) -> int | None:
        return int(fields[name]) if name in fields else None

    def usd(name: str) -> float | None:
        return from_nano(int(fields[name])) if name in fields else None

    limits = None
    if any(name in fields for name in LIMIT_FIELDS):
        limits = RateLimits(rpm=count("rpm"), tpm=count("tpm"), max_concurrent=count("max_concurrent"))
    budget = None
    if any(name in fields for name in BUDGET_FIELDS):
        budget = Budget(daily_usd=usd("daily_nano"), monthly_usd=usd("monthly_nano"))
    return limits, budget


def effective_limits(fields: dict[str, str], default: RateLimits) -> RateLimits:
    """Override field if present, else the caller's policy default (as admit.lua does)."""
    override, _ = decode_overrides(fields)
    if override is None:
        return default
    return RateLimits(
        rpm=override.rpm if override.rpm is not None else default.rpm,
        tpm=override.tpm if override.tpm is not None else default.tpm,
        max_concurrent=override.max_concurrent if override.max_concurrent is not None else default.max_concurrent,
        burst=default.burst,  # bursts and per-second limits come from the policy only
        rps=default.rps,
    )


def effective_budget(fields: dict[str, str], default: Budget) -> Budget:
    _, override = decode_overrides(fields)
    if override is None:
        return default
    return Budget(
        daily_usd=override.daily_usd if override.daily_usd is not None else default.daily_usd,
        monthly_usd=override.monthly_usd if override.monthly_usd is not None else default.monthly_usd,
    )
