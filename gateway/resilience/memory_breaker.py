"""The breaker store for a single process: the same state machine as the Redis scripts, on an injectable clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.policy.schema import BreakerPolicy
from gateway.resilience.breaker import CLOSED, HALF_OPEN, OPEN, WINDOW_BUCKETS


@dataclass
class _Circuit:
    open_until: float | None = None
    probes: int = 0
    probe_until: float = 0.0
    # bucket number -> [outcomes, failures, rate-limited failures]
    buckets: dict[int, list[int]] = field(default_factory=dict)
    cause: str | None = None  # "rate_limit" when most failures that opened it were upstream 429s


class MemoryBreakerStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    async def check(self, model: str, policy: BreakerPolicy) -> float | None:
        circuit = self._circuits.get(model)
        if circuit is None or circuit.open_until is None:
            return None
        now = self._clock()
        if now < circuit.open_until:
            return circuit.open_until - now
        if circuit.probes < policy.half_open_probes:
            if circuit.probes == 0:
                circuit.probe_until = now + policy.cooldown_s
            circuit.probes += 1
            return None
        if now >= circuit.probe_until:
            # The probes of this round never reported back; start a new round rather than stay stuck.
            circuit.probes, circuit.probe_until = 1, now + policy.cooldown_s
            return None
        return circuit.probe_until - now

    async def record(self, model: str, ok: bool, policy: BreakerPolicy, *, rate_limited: bool = False) -> None:
        now = self._clock()
        rate_limited = rate_limited and not ok
        circuit = self._circuits.setdefault(model, _Circuit())
        if circuit.open_until is not None:
            if now < circuit.open_until:
                return
            if ok:
                del self._circuits[model]
            else:
                self._open(model, now, policy, rate_limited)  # a failed probe: its own kind decides
            return
        self._count(circuit, ok, rate_limited, now, policy)
        outcomes = sum(counts[0] for counts in circuit.buckets.values())
        failures = sum(counts[1] for counts in circuit.buckets.values())
        limited = sum(counts[2] for counts in circuit.buckets.values())
        if outcomes >= policy.min_requests and failures >= policy.failure_rate * outcomes:
            self._open(model, now, policy, limited > failures / 2)

    async def open_cause(self, model: str) -> str | None:
        circuit = self._circuits.get(model)
        return circuit.cause if circuit is not None else None

    async def states(self, models: Sequence[str]) -> dict[str, str]:
        now = self._clock()
        return {model: self._state(self._circuits.get(model), now) for model in models}

    def _open(self, model: str, now: float, policy: BreakerPolicy, rate_limited: bool) -> None:
        cause = "rate_limit" if rate_limited else None
        self._circuits[model] = _Circuit(open_until=now + policy.cooldown_s, cause=cause)

    @staticmethod
    def _count(circuit: _Circuit, ok: bool, rate_limited: bool, now: float, policy: BreakerPolicy) -> None:
        bucket = math.floor(now / (policy.window_s / WINDOW_BUCKETS))
        for old in [number for number in circuit.buckets if number <= bucket - WINDOW_BUCKETS]:
            del circuit.buckets[old]
        counts = circuit.buckets.setdefault(bucket, [0, 0, 0])
        counts[0] += 1
        counts[1] += 0 if ok else 1
        counts[2] += int(rate_limited)

    @staticmethod
    def _state(circuit: _Circuit | None, now: float) -> str:
        if circuit is None or circuit.open_until is None:
            return CLOSED
        return OPEN if now < circuit.open_until else HALF_OPEN
