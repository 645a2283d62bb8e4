"""API keys and tag totals in the in-process backend (issue 15), mirroring the key and tag blocks of the Lua.

A key's rate limits live in the org's TAT table under `key:<id>:rpm|tpm`; its reservations, reserved total and
spend live here, one `KeyState` per key, so a key's budget counts only its own calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.limits import gcra
from gateway.limits.memory_state import OrgState
from gateway.limits.periods import Periods, periods_at
from gateway.limits.types import KeyLimits, KeySpend, Reason, TagTotals, from_nano

PURGE_EVERY = 1024


@dataclass
class KeyReservation:
    reserve: int  # nano-dollars
    tokens: int
    tpm_interval: float  # ms per token of the key's tpm limit (0 when unlimited)
    expires_ms: float


@dataclass
class KeyState:
    reservations: dict[str, KeyReservation] = field(default_factory=dict)
    reserved: int = 0
    spend: dict[str, int] = field(default_factory=dict)  # "d:YYYY-MM-DD", "m:YYYY-MM", "total" → nano
    last_used_ms: float | None = None

    def purge_expired(self, now_ms: float) -> None:
        for request_id in [rid for rid, res in self.reservations.items() if res.expires_ms <= now_ms]:
            self.reserved -= self.reservations.pop(request_id).reserve


@dataclass
class TagCounter:
    cost: int = 0
    tokens: int = 0
    calls: int = 0
    expires_ms: float = 0.0


class MemoryKeys:
    """Every API key's and every tag's state for one process."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], KeyState] = {}
        self._tags: dict[tuple[str, str, str], TagCounter] = {}
        self._tag_writes = 0

    def state(self, org: str, key_id: str, now_ms: float) -> KeyState:
        state = self._keys.setdefault((org, key_id), KeyState())
        state.purge_expired(now_ms)
        return state

    def rate_candidates(self, key: KeyLimits | None, tokens: int) -> list[tuple[str, int | None, int, Reason, str]]:
        if key is None:
            return []
        base = f"key:{key.key_id}:"
        return [(base + "rpm", key.rpm, 1, "key_rpm", "requests"), (base + "tpm", key.tpm, tokens, "key_tpm", "tokens")]

    def budget_failure(
        self, org: str, key: KeyLimits, reserve: int, periods: Periods, now_ms: float
    ) -> tuple[Reason, float] | None:
        state = self.state(org, key.key_id, now_ms)
        held = state.reserved + reserve
        failed: tuple[Reason, float] | None = None
        if key.daily_usd is not None and state.spend.get(f"d:{periods.day}", 0) + held > round(key.daily_usd * 1e9):
            failed = ("key_daily_budget", periods.day_reset_s * 1000)
        monthly = key.monthly_usd
        if monthly is not None and state.spend.get(f"m:{periods.month}", 0) + held > round(monthly * 1e9):
            failed = ("key_monthly_budget", periods.month_reset_s * 1000)
        return failed

    def reserve(self, org: str, key: KeyLimits, request_id: str, reserve: int, tokens: int, expires_ms: float) -> None:
        state = self._keys.setdefault((org, key.key_id), KeyState())
        interval = gcra.interval_ms(key.tpm) if key.tpm else 0.0
        state.reservations[request_id] = KeyReservation(reserve, tokens, interval, expires_ms)
        state.reserved += reserve

    def finish(self, org_state: OrgState, org: str, key_id: str, request_id: str, actual: int, now_ms: float) -> None:
        state = self._keys.setdefault((org, key_id), KeyState())
        res = state.reservations.pop(request_id, None)
        if res is None:
            return
        state.reserved -= res.reserve
        delta = actual - res.tokens
        if res.tpm_interval > 0 and delta != 0:
            tpm_key = f"key:{key_id}:tpm"
            org_state.store_tat(tpm_key, gcra.shift(org_state.tat(tpm_key), now_ms, delta, res.tpm_interval), now_ms)

    def spend(self, org: str, key_id: str, cost: int, now_ms: float) -> None:
        state = self._keys.setdefault((org, key_id), KeyState())
        periods = periods_at(now_ms / 1000)
        for name in (f"d:{periods.day}", f"m:{periods.month}", "total"):
            state.spend[name] = state.spend.get(name, 0) + cost
        state.last_used_ms = now_ms

    def summary(self, org: str, key_id: str, now_ms: float) -> KeySpend:
        state = self.state(org, key_id, now_ms)
        periods = periods_at(now_ms / 1000)
        return KeySpend(
            key_id=key_id, day=periods.day, month=periods.month,
            daily_usd=from_nano(state.spend.get(f"d:{periods.day}", 0)),
            monthly_usd=from_nano(state.spend.get(f"m:{periods.month}", 0)),
            total_usd=from_nano(state.spend.get("total", 0)), reserved_usd=from_nano(state.reserved),
            last_used_ms=state.last_used_ms,
            by_day={name[2:]: from_nano(v) for name, v in sorted(state.spend.items()) if name.startswith("d:")},
        )

    def count_tags(self, org: str, tags: dict[str, str], cost: int, tokens: int, retention_s: float,
                   now_ms: float) -> None:
        if retention_s <= 0:
            return
        for name, value in tags.items():
            counter = self._tags.get((org, name, value))
            if counter is None or counter.expires_ms <= now_ms:
                counter = self._tags[(org, name, value)] = TagCounter()
            counter.cost += cost
            counter.tokens += tokens
            counter.calls += 1
            counter.expires_ms = now_ms + retention_s * 1000
        self._tag_writes += 1
        if self._tag_writes % PURGE_EVERY:
            return
        # Expired counters are dropped in a sweep every PURGE_EVERY settlements, not on each one.
        for expired in [tag for tag, counter in self._tags.items() if counter.expires_ms <= now_ms]:
            del self._tags[expired]

    def tag_totals(self, org: str, name: str, value: str, now_ms: float) -> TagTotals:
        counter = self._tags.get((org, name, value))
        if counter is None or counter.expires_ms <= now_ms:
            return TagTotals(name, value)
        return TagTotals(name, value, from_nano(counter.cost), counter.tokens, counter.calls)
