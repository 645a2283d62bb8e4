"""Resilience for upstream calls: retries with backoff and a retry budget, model fallbacks, circuit breaking.

`ResilientCaller.call(models, attempt, deadline_s=...)` is the one entry point for the request path; the rest
is its parts, exported for wiring (`create_app`) and metrics.
"""

from gateway.resilience.backoff import full_jitter, parse_retry_after, retry_after_of
from gateway.resilience.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    UNKNOWN,
    BreakerStore,
    BreakerStoreError,
    CircuitBreaker,
)
from gateway.resilience.classify import (
    ACCOUNT_REFUSED,
    CIRCUIT_OPEN,
    DEADLINE_EXCEEDED,
    breaker_verdict,
    is_retryable,
)
from gateway.resilience.deadline import Deadline, first_byte_timeout_s, request_budget_s
from gateway.resilience.executor import (
    ResilientCaller,
    circuit_open_error,
    circuit_rate_limited_error,
    deadline_error,
)
from gateway.resilience.memory_breaker import MemoryBreakerStore
from gateway.resilience.outcome import Attempt, Outcome, attempts_of, count_fallbacks, count_retries
from gateway.resilience.redis_breaker import RedisBreakerStore, circuit_key
from gateway.resilience.retry_budget import RetryBudget

__all__ = [
    "ACCOUNT_REFUSED",
    "CIRCUIT_OPEN",
    "CLOSED",
    "DEADLINE_EXCEEDED",
    "HALF_OPEN",
    "OPEN",
    "UNKNOWN",
    "Attempt",
    "BreakerStore",
    "BreakerStoreError",
    "CircuitBreaker",
    "Deadline",
    "MemoryBreakerStore",
    "Outcome",
    "RedisBreakerStore",
    "ResilientCaller",
    "RetryBudget",
    "attempts_of",
    "breaker_verdict",
    "circuit_key",
    "circuit_open_error",
    "circuit_rate_limited_error",
    "count_fallbacks",
    "count_retries",
    "deadline_error",
    "first_byte_timeout_s",
    "full_jitter",
    "is_retryable",
    "parse_retry_after",
    "request_budget_s",
    "retry_after_of",
]
