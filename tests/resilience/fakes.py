"""Deterministic stand-ins for time and chance, so the executor's arithmetic can be checked exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import GatewayError


class FakeClock:
    """A monotonic clock that moves only when told to (or when `FakeSleep` sleeps on it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeSleep:
    """Records each requested sleep and advances the clock by it instead of waiting."""

    clock: FakeClock
    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


@dataclass
class ScriptedUpstream:
    """`attempt(model)` that fails with the queued errors for a model, then answers `"answer from <model>"`.

    `cost_s` advances the clock per attempt, modelling upstream latency.
    """

    clock: FakeClock
    script: dict[str, list[GatewayError | Callable[[], GatewayError]]] = field(default_factory=dict)
    always: dict[str, Callable[[], GatewayError]] = field(default_factory=dict)
    cost_s: float = 0.0
    calls: list[str] = field(default_factory=list)

    async def __call__(self, model: str) -> str:
        self.calls.append(model)
        self.clock.advance(self.cost_s)
        if model in self.always:
            raise self.always[model]()
        queue = self.script.get(model) or []
        if queue:
            failure = queue.pop(0)
            raise failure() if callable(failure) else failure
        return f"answer from {model}"
