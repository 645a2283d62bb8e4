"""Which retry class (gateway/policy/retry.py) an upstream failure belongs to, and so which settings apply.

The classes follow the gateway's error tree, as `classify` does: a `RateLimitError` is an upstream 429, an
`UpstreamTimeoutError` a timeout, anything else retryable a server error.
"""

from __future__ import annotations

from gateway.errors import GatewayError, RateLimitError, UpstreamTimeoutError
from gateway.policy.retry import RATE_LIMITED, SERVER_ERRORS, TIMEOUTS, RetrySettings, settings_for
from gateway.policy.schema import RetryPolicy


def retry_class(exc: GatewayError) -> str:
    if isinstance(exc, RateLimitError):
        return RATE_LIMITED
    if isinstance(exc, UpstreamTimeoutError):
        return TIMEOUTS
    return SERVER_ERRORS


def settings_for_error(policy: RetryPolicy, exc: GatewayError) -> RetrySettings:
    return settings_for(policy, retry_class(exc))
