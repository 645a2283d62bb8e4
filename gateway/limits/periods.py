"""UTC calendar periods for budgets; common.lua computes the same keys from Redis server time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Periods:
    day: str  # YYYY-MM-DD
    month: str  # YYYY-MM
    day_reset_s: float  # seconds until the next UTC midnight
    month_reset_s: float  # seconds until 00:00 UTC on the 1st of next month


def periods_at(epoch_s: float) -> Periods:
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    next_day = (epoch_s // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    next_month = datetime(year, month, 1, tzinfo=UTC).timestamp()
    return Periods(
        day=moment.strftime("%Y-%m-%d"),
        month=moment.strftime("%Y-%m"),
        day_reset_s=next_day - epoch_s,
        month_reset_s=next_month - epoch_s,
    )
