"""Retry settings per class of upstream failure (`retry:` in the policy, globally and per task).

Classes: `rate_limited` (upstream 429s), `server_errors` (500, 502, 503, 529, connection failures) and `timeouts`
(408, 504, 524, the transport's). Each may set its own `max_attempts`, backoff and `Retry-After` cap; what it
leaves out follows the `retry:` section's own values. Rate limits usually want more patience (a longer backoff,
a `Retry-After` honoured up to a minute), server errors fewer attempts. `gateway.resilience.retry_classes` maps
an error to its class.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.policy.schema import RetryClassPolicy, RetryPolicy

RATE_LIMITED = "rate_limited"
SERVER_ERRORS = "server_errors"
TIMEOUTS = "timeouts"
CLASSES = (RATE_LIMITED, SERVER_ERRORS, TIMEOUTS)


@dataclass(frozen=True, slots=True)
class RetrySettings:
    max_attempts: int
    base_delay_s: float
    max_delay_s: float
    retry_after_cap_s: float


def settings_for(policy: RetryPolicy, name: str) -> RetrySettings:
    section: RetryClassPolicy = getattr(policy, name)
    return RetrySettings(
        max_attempts=section.max_attempts if section.max_attempts is not None else policy.max_attempts,
        base_delay_s=section.base_delay_s if section.base_delay_s is not None else policy.base_delay_s,
        max_delay_s=section.max_delay_s if section.max_delay_s is not None else policy.max_delay_s,
        retry_after_cap_s=(section.retry_after_cap_s if section.retry_after_cap_s is not None
                           else policy.retry_after_cap_s),
    )


def merged(base: RetryPolicy, override: RetryPolicy | None) -> RetryPolicy:
    """A task's `retry:` over the global one: only the keys the task wrote replace the global values."""
    if override is None:
        return base
    return base.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})
