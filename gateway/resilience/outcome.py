"""What the executor reports: every upstream attempt it made (or skipped), and how the request was served."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, TypeVar

from gateway.errors import GatewayError
from gateway.resilience.classify import CIRCUIT_OPEN

T = TypeVar("T")

OK_STATUS = 200


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at one model.

    `status` is 200 on success, else the gateway status of the failure (its `code` says which kind); a model
    skipped because its circuit is open appears with status 503 (429 when upstream rate limits opened it), error
    `circuit_open` and no duration, and `retry_after_s` is then the cool-down left. Otherwise `retry_after_s` is
    the upstream's `Retry-After`.
    """

    model: str
    status: int
    error: str | None
    duration_s: float
    retry_after_s: float | None = None

    @property
    def sent(self) -> bool:
        """Whether this attempt reached the upstream (circuit-open skips did not)."""
        return self.error != CIRCUIT_OPEN


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A successful call: the attempt's value plus the history researchers and metrics need."""

    value: T
    attempts: tuple[Attempt, ...]
    retries: int
    fallbacks: int
    model_used: str


def attach_attempts(exc: GatewayError, attempts: Sequence[Attempt]) -> None:
    """Hang the history on the error that ends a failed call, so the caller can log and meter it."""
    exc.attempts = tuple(attempts)


def attempts_of(exc: BaseException) -> tuple[Attempt, ...]:
    """The attempts attached by the executor, or () for an error that did not come out of it."""
    return exc.attempts if isinstance(exc, GatewayError) else ()


def count_retries(attempts: Sequence[Attempt]) -> int:
    """Attempts sent to the same model as the attempt before them."""
    return sum(
        1 for previous, current in pairwise(attempts)
        if current.sent and previous.model == current.model
    )


def count_fallbacks(attempts: Sequence[Attempt]) -> int:
    """How many times the call moved on to the next model."""
    return sum(1 for previous, current in pairwise(attempts) if previous.model != current.model)
