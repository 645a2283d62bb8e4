"""GCRA (generic cell rate algorithm) for rate limits; mirrored line for line in common.lua/admit.lua.

State is one number, the theoretical arrival time (TAT). Emission interval T = period / limit (the period is a
minute for rpm/tpm, a second for rps) and burst capacity defaults to `limit`: a fresh key admits exactly `burst`
units at once, then one unit every T. Unlike fixed windows there is no edge at which a second full burst becomes
available. A burst below the limit ("100/min, bursts of 30") keeps the long-run rate and caps the spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PERIOD_MS = 60_000.0
# Float slack so that limit × (60000 / limit) still fits in the period (e.g. limit 7): one microsecond.
TOLERANCE_MS = 1e-3


@dataclass(frozen=True)
class GcraOutcome:
    """`tat_ms` is the TAT to store when allowed (else the unchanged one); `remaining`/`reset_ms` follow it."""

    allowed: bool
    tat_ms: float
    retry_after_ms: float
    remaining: int
    reset_ms: float


def interval_ms(limit: int) -> float:
    return PERIOD_MS / limit


def remaining(
    tat_ms: float, now_ms: float, limit: int, *, period_ms: float = PERIOD_MS, burst: int | None = None
) -> int:
    """Units that could pass right now; consistent with `check` (cost 1 passes iff this is ≥ 1)."""
    capacity = burst or limit
    interval = period_ms / limit
    spare = capacity * interval - (max(tat_ms, now_ms) - now_ms) + TOLERANCE_MS
    return max(0, min(capacity, math.floor(spare / interval)))


def check(
    tat_ms: float | None,
    now_ms: float,
    limit: int,
    cost: int,
    *,
    period_ms: float = PERIOD_MS,
    burst: int | None = None,
) -> GcraOutcome:
    capacity = burst or limit
    interval = period_ms / limit
    base = now_ms if tat_ms is None or tat_ms < now_ms else tat_ms
    new_tat = base + cost * interval
    wait = new_tat - capacity * interval - now_ms
    if wait > TOLERANCE_MS:
        left = remaining(base, now_ms, limit, period_ms=period_ms, burst=burst)
        return GcraOutcome(False, base, wait, left, base - now_ms)
    left = remaining(new_tat, now_ms, limit, period_ms=period_ms, burst=burst)
    return GcraOutcome(True, new_tat, 0.0, left, new_tat - now_ms)


def shift(tat_ms: float | None, now_ms: float, delta_units: int, interval: float) -> float | None:
    """TAT after correcting a consumption by `delta_units` (negative refunds); None when fully replenished."""
    if interval <= 0 or delta_units == 0:
        return tat_ms
    tat = now_ms if tat_ms is None else tat_ms
    if delta_units > 0 and tat < now_ms:
        tat = now_ms
    tat += delta_units * interval
    return tat if tat > now_ms else None
