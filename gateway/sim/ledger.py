"""The simulator's books: credits and usage windows, generation records, counters and the request log."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_REQUEST_RECORDS = 1000
MAX_GENERATIONS = 50_000
RecordBuilder = Callable[[], dict[str, Any]]


class Ledger:
    """Everything `/key`, `/credits`, `/generation` and `/_sim/stats` report; reset by `POST /_sim/reset`."""

    def __init__(self, credits_usd: float) -> None:
        self.reset(credits_usd)

    def reset(self, credits_usd: float) -> None:
        self.total_credits = credits_usd
        self.total_usage = 0.0
        self.usage_by_day: dict[str, float] = {}
        self.generations: OrderedDict[str, tuple[float, RecordBuilder | dict[str, Any]]] = OrderedDict()
        self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_REQUEST_RECORDS)
        self.requests_total = 0
        self.requests_by_model: dict[str, int] = {}
        self.completions_total = 0
        self.streams_cancelled = 0
        self.in_flight = 0
        self.free_minute: deque[float] = deque()
        self.free_day: dict[str, int] = {}

    @property
    def balance(self) -> float:
        return self.total_credits - self.total_usage

    def count_attempt(self, model: str) -> None:
        self.requests_by_model[model] = self.requests_by_model.get(model, 0) + 1

    def bill(self, generation_id: str, cost: float, record: RecordBuilder, ready_at: float) -> None:
        """Charge `cost` and file the generation record that `/generation` will serve from `ready_at`.

        The record is built on first read: most generations are never looked up, and building ~50 fields per
        request would cost a measurable share of the simulator's throughput.
        """
        self.total_usage += cost
        day = datetime.now(UTC).date().isoformat()
        self.usage_by_day[day] = self.usage_by_day.get(day, 0.0) + cost
        self.completions_total += 1
        self.generations[generation_id] = (ready_at, record)
        if len(self.generations) > MAX_GENERATIONS:
            self.generations.popitem(last=False)

    def generation(self, generation_id: str, now: float) -> dict[str, Any] | None:
        entry = self.generations.get(generation_id)
        if entry is None or entry[0] > now:
            return None
        record = entry[1]
        if callable(record):
            record = record()
            self.generations[generation_id] = (entry[0], record)
        return record

    def usage_windows(self) -> tuple[float, float, float]:
        """Daily, weekly (weeks start Monday) and monthly usage, all in UTC."""
        today = datetime.now(UTC).date()
        monday = today - timedelta(days=today.weekday())
        daily = weekly = monthly = 0.0
        for day_text, cost in self.usage_by_day.items():
            day = datetime.fromisoformat(day_text).date()
            daily += cost if day == today else 0.0
            weekly += cost if day >= monday else 0.0
            monthly += cost if (day.year, day.month) == (today.year, today.month) else 0.0
        return daily, weekly, monthly

    def admit_free(self, rpm: int, rpd: int) -> tuple[bool, int, int] | None:
        """Count a `:free` request; on refusal return (per_day, limit, reset epoch ms)."""
        now = time.time()
        while self.free_minute and self.free_minute[0] <= now - 60:
            self.free_minute.popleft()
        day = datetime.now(UTC).date()
        used_today = self.free_day.get(day.isoformat(), 0)
        if used_today >= rpd:
            midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            return True, rpd, int(midnight.timestamp() * 1000)
        if len(self.free_minute) >= rpm:
            return False, rpm, int((self.free_minute[0] + 60) * 1000)
        self.free_minute.append(now)
        self.free_day[day.isoformat()] = used_today + 1
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total, "requests_by_model": dict(self.requests_by_model),
            "completions_total": self.completions_total, "streams_cancelled": self.streams_cancelled,
            "billed_usd_total": self.total_usage, "in_flight": self.in_flight,
        }
