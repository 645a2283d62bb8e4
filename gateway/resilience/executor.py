"""Runs one upstream call through retries, fallbacks and the circuit breaker.

The caller hands over `attempt(model)`, the step that opens the upstream response for one model, and only that
step: once the first byte has gone to the client nothing may be retried, so streaming stays outside.

Per model, in the route's order: ask the breaker (open -> skip to the next model), try, and on a retryable
failure wait (the upstream's `Retry-After`, else exponential backoff with full jitter) and try again, up to
`max_attempts`. A model is given up on, and the next one tried at once, when its attempts are used up, its
`Retry-After` exceeds `retry_after_cap_s`, the wait would not fit in the deadline, the retry budget is spent, or
its circuit opens. A failure that is not retryable (a 4xx) ends the call at once, since another model would refuse
the same request; a refusal over the model's own context or output limit is the exception: the next model is tried.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from gateway.errors import GatewayError, RateLimitError, ServiceUnavailableError, UpstreamTimeoutError
from gateway.policy.schema import RetryPolicy
from gateway.resilience.backoff import full_jitter, retry_after_of
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.classify import (
    CIRCUIT_OPEN,
    DEADLINE_EXCEEDED,
    breaker_verdict,
    is_retryable,
    tries_next_model,
)
from gateway.resilience.deadline import Deadline
from gateway.resilience.outcome import (
    OK_STATUS,
    Attempt,
    Outcome,
    attach_attempts,
    count_fallbacks,
    count_retries,
)
from gateway.resilience.retry_budget import RetryBudget
from gateway.resilience.retry_classes import settings_for_error

T = TypeVar("T")
AttemptFn = Callable[[str], Awaitable[T]]


def circuit_open_error(model: str, wait_s: float) -> ServiceUnavailableError:
    seconds = max(1, math.ceil(wait_s))
    return ServiceUnavailableError(
        f"Model '{model}' is temporarily unavailable after repeated upstream failures; retry in {seconds} s",
        code=CIRCUIT_OPEN,
        headers={"retry-after": str(seconds)},
        retryable=False,
        counts_against_circuit=False,
    )


def circuit_rate_limited_error(model: str, wait_s: float) -> RateLimitError:
    """A circuit opened by upstream 429s keeps their meaning for the client: slow down, retry after this."""
    seconds = max(1, math.ceil(wait_s))
    return RateLimitError(
        f"Model '{model}' is rate-limited upstream; retry in {seconds} s",
        code=CIRCUIT_OPEN,
        headers={"retry-after": str(seconds)},
    )


def deadline_error() -> UpstreamTimeoutError:
    return UpstreamTimeoutError("The request's time budget ran out before OpenRouter answered", code=DEADLINE_EXCEEDED,
                                retryable=False, counts_against_circuit=False)


@dataclass(slots=True)
class _ModelResult(Generic[T]):
    """How trying one model ended: a value, or an error plus whether the next model may be tried."""

    succeeded: bool = False
    value: T | None = None
    error: GatewayError | None = None
    fall_over: bool = False


class ResilientCaller:
    def __init__(
        self,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        budget: RetryBudget,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry = retry
        self.breaker = breaker
        self.budget = budget
        self._sleep = sleep
        self._rng = rng
        self._clock = clock

    async def call(
        self,
        models: Sequence[str],
        attempt: AttemptFn[T],
        *,
        deadline_s: float | None,
        attempt_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Outcome[T]:
        """Serve the call from the first model that answers; raise the last error (with `.attempts`) if none does.

        `deadline_s` bounds the whole call, waits included; `attempt_timeout_s` (e.g. the first-byte timeout)
        bounds each attempt, and running into it counts as an upstream timeout (retryable), whereas running
        into the deadline ends the call with a 504 `deadline_exceeded` that the breaker does not count.
        `retry` replaces the caller's retry settings for this call (a task's own, `Route.retry`).
        """
        if not models:
            raise ValueError("a call needs at least one model")
        self.budget.record_request()
        deadline = Deadline(deadline_s, clock=self._clock)
        attempts: list[Attempt] = []
        error: GatewayError = deadline_error()
        for model in models:
            result = await self._try_model(model, attempt, deadline, attempt_timeout_s, attempts, retry or self.retry)
            if result.succeeded:
                return Outcome(
                    value=cast(T, result.value),
                    attempts=tuple(attempts),
                    retries=count_retries(attempts),
                    fallbacks=count_fallbacks(attempts),
                    model_used=model,
                )
            error = cast(GatewayError, result.error)
            if not result.fall_over or deadline.expired():
                break
        attach_attempts(error, attempts)
        raise error

    async def _try_model(
        self, model: str, attempt: AttemptFn[T], deadline: Deadline, attempt_timeout_s: float | None,
        attempts: list[Attempt], retry: RetryPolicy,
    ) -> _ModelResult[T]:
        retry_index = 0
        while True:
            if deadline.expired():
                return _ModelResult(error=deadline_error())
            wait = await self.breaker.check(model)
            if wait is not None:
                rate_limited = await self.breaker.open_cause(model) == "rate_limit"
                skipped = circuit_rate_limited_error(model, wait) if rate_limited else circuit_open_error(model, wait)
                attempts.append(Attempt(model, skipped.status, CIRCUIT_OPEN, 0.0, wait))
                return _ModelResult(error=skipped, fall_over=True)
            started = self._clock()
            try:
                value = await self._bounded(attempt, model, deadline, attempt_timeout_s)
            except GatewayError as exc:
                retry_after = retry_after_of(exc)
                attempts.append(Attempt(model, exc.status, exc.code, self._clock() - started, retry_after))
                verdict = breaker_verdict(exc)
                if verdict is not None:
                    await self.breaker.record(model, verdict, rate_limited=isinstance(exc, RateLimitError))
                if not is_retryable(exc):
                    return _ModelResult(error=exc, fall_over=tries_next_model(exc))
                delay = self._retry_delay(retry_index, retry_after, deadline, retry, exc)
                if delay is None:
                    return _ModelResult(error=exc, fall_over=True)
                await self._sleep(delay)
                retry_index += 1
                continue
            attempts.append(Attempt(model, OK_STATUS, None, self._clock() - started))
            await self.breaker.record(model, True)
            return _ModelResult(succeeded=True, value=value)

    def _retry_delay(
        self, retry_index: int, retry_after: float | None, deadline: Deadline, retry: RetryPolicy, exc: GatewayError
    ) -> float | None:
        """Seconds to wait before retrying the same model, or None to give up on it and fall over.

        The settings are those of the failure's class (429, 5xx, timeout); attempts are counted per model.
        """
        settings = settings_for_error(retry, exc)
        if retry_index + 1 >= settings.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > settings.retry_after_cap_s:
                return None
            delay = retry_after
        else:
            delay = full_jitter(retry_index, settings.base_delay_s, settings.max_delay_s, self._rng)
        if not deadline.allows(delay):
            return None
        # Spent last, so the budget only pays for retries that will really be sent.
        return delay if self.budget.try_spend() else None

    async def _bounded(
        self, attempt: AttemptFn[T], model: str, deadline: Deadline, attempt_timeout_s: float | None
    ) -> T:
        limit = deadline.cap(attempt_timeout_s)
        if limit is None:
            return await attempt(model)
        deadline_bound = attempt_timeout_s is None or limit < attempt_timeout_s
        # A timer handle on the loop instead of an `asyncio.timeout` scope per attempt (same cancel-and-uncancel
        # semantics, one object less per call on the hot path).
        task = asyncio.current_task()
        assert task is not None  # always awaited inside a task
        expiry = _Expiry(task)
        handle = asyncio.get_running_loop().call_later(limit, expiry.fire)
        try:
            value = await attempt(model)
        except asyncio.CancelledError as exc:
            if not expiry.fired or task.uncancel() > expiry.cancelling:
                raise  # cancelled from outside as well: that cancellation wins
            if deadline_bound:
                raise deadline_error() from exc
            raise UpstreamTimeoutError(f"'{model}' did not start answering within {limit:g} s") from exc
        finally:
            handle.cancel()
        if expiry.fired:  # answered as the timer fired: take back its cancellation request, as asyncio.timeout does
            task.uncancel()
        return value


class _Expiry:
    """Cancels the attempt's task when its time is up, and remembers that it did."""

    __slots__ = ("cancelling", "fired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.cancelling = task.cancelling()
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        self.task.cancel()
