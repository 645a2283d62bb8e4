"""Where injected faults come from: the per-request options, the scripted queue and the seeded dice.

A fault is consumed per *model attempt*, so a request with a `models[]` fallback list can watch the first
model fail and the next one answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from gateway.sim.errors import is_known_fault


@dataclass(slots=True)
class Fault:
    error: int | str
    retry_after: float | None = None
    error_after_tokens: int | None = None


@dataclass(slots=True)
class ScriptedFault:
    model: str
    fault: Fault
    remaining: int | None

    def document(self) -> dict[str, Any]:
        return {"model": self.model, "error": self.fault.error, "count": self.remaining,
                "retry_after": self.fault.retry_after, "error_after_tokens": self.fault.error_after_tokens}


def parse_fault_value(value: Any) -> int | str:
    """Accept 503, "503" or a kind name; reject anything the simulator cannot produce."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not is_known_fault(value):
        raise ValueError(f"unknown fault {value!r}")
    return value  # type: ignore[no-any-return]


class FaultBook:
    """Scripted faults (FIFO, each matching attempt consumes one) and the seeded random fault mode."""

    def __init__(self, seed: int) -> None:
        self.scripted: list[ScriptedFault] = []
        self.rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def add(self, spec: dict[str, Any]) -> ScriptedFault:
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer or null")
        fault = Fault(parse_fault_value(spec.get("error")), _optional_float(spec.get("retry_after")),
                      _optional_int(spec.get("error_after_tokens")))
        entry = ScriptedFault(str(spec.get("model") or "*"), fault, count)
        self.scripted.append(entry)
        return entry

    def clear(self) -> None:
        self.scripted.clear()

    def take(self, model: str) -> Fault | None:
        for index, entry in enumerate(self.scripted):
            if entry.model not in ("*", model):
                continue
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining == 0:
                    del self.scripted[index]
            return entry.fault
        return None

    def roll(self, rates: dict[str, float]) -> Fault | None:
        """One draw per attempt; with rates summing below 1 the remainder is success."""
        if not rates:
            return None
        draw = self.rng.random()
        cumulative = 0.0
        for key in sorted(rates):
            cumulative += rates[key]
            if draw < cumulative:
                return Fault(parse_fault_value(key))
        return None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
