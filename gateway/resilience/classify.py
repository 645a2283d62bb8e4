"""Which upstream failures are worth another try, and which count against a model's circuit.

Decided on the gateway's own error tree (after `gateway.upstream.errors` translated OpenRouter's answer), so the
executor never sees raw statuses. The mapping from upstream status to class is:

- 408, 504, 524, transport timeouts  -> `UpstreamTimeoutError`     retryable, breaker failure
- 429                                 -> `RateLimitError`           retryable, breaker failure
- 503, 529                            -> `ServiceUnavailableError`  retryable, breaker failure
- 500, 502, connect errors, garbage   -> `UpstreamError`            retryable, breaker failure
- 401, 402 (the gateway's own key)    -> `UpstreamError` with code `upstream_account_refused`: not retryable and
  not the model's fault, so the breaker does not hear of it
- 400, 403, 404, 413, 422, other 4xx  -> `UpstreamClientError` / `PermissionDeniedError`: not retryable, and a
  success as far as the breaker is concerned (the model answered; the request was bad)
"""

from __future__ import annotations

from gateway.errors import (
    GatewayError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)

# Set by `gateway.upstream.errors` when OpenRouter refuses the gateway's own key (401) or credits (402):
# retrying or failing over cannot help, every model would be refused the same way.
ACCOUNT_REFUSED = "upstream_account_refused"
# Set by the executor when the request's own time budget ran out: not evidence against the model.
DEADLINE_EXCEEDED = "deadline_exceeded"
# Set by the executor for a model skipped because its circuit is open.
CIRCUIT_OPEN = "circuit_open"

_NOT_THE_MODELS_FAULT = frozenset({ACCOUNT_REFUSED, DEADLINE_EXCEEDED, CIRCUIT_OPEN})
_TRANSIENT = (UpstreamTimeoutError, RateLimitError, ServiceUnavailableError, UpstreamError)


def is_retryable(exc: GatewayError) -> bool:
    """True for failures another attempt (same model later, or the next model) may well not see."""
    if exc.code in _NOT_THE_MODELS_FAULT:
        return False
    return isinstance(exc, _TRANSIENT)


def breaker_verdict(exc: GatewayError) -> bool | None:
    """What the model's circuit should record for this failure: False (failure), True (success), None (nothing)."""
    if exc.code in _NOT_THE_MODELS_FAULT:
        return None
    return not is_retryable(exc)
