"""What the executor does with a failed attempt, read from the error itself (`gateway.errors`).

Retryability and the circuit's verdict are attributes of each error class (set once, in `gateway.errors`, and by
the one translator of OpenRouter's errors, `gateway.upstream.errors`), so the executor never sees raw statuses:

- 408, 504, 524, transport timeouts  -> `UpstreamTimeoutError`     retryable, breaker failure
- 429                                 -> `RateLimitError`           retryable, breaker failure
- 503, 529                            -> `ServiceUnavailableError`  retryable, breaker failure
- 500, 502, connect errors, garbage   -> `UpstreamError`            retryable, breaker failure
- 401, 402 (the gateway's own key)    -> `UpstreamAccountError`: not retryable and not the model's fault, so the
  breaker does not hear of it
- 400, 403, 404, 413, 422, other 4xx  -> `UpstreamClientError` / `PermissionDeniedError`: not retryable, and a
  success as far as the breaker is concerned (the model answered; the request was bad)
- the request's own deadline, a model skipped for its open circuit: neither retried nor held against the model
"""

from __future__ import annotations

from gateway.errors import GatewayError

# Error codes clients and the ledger see for the failures the executor itself produces.
ACCOUNT_REFUSED = "upstream_account_refused"
DEADLINE_EXCEEDED = "deadline_exceeded"
CIRCUIT_OPEN = "circuit_open"


def is_retryable(exc: GatewayError) -> bool:
    """True for failures another attempt (same model later, or the next model) may well not see."""
    return exc.retryable


# Refusals that depend on the model's own limits: the same model refuses again, but a fallback with a larger
# context or output limit may serve the request (as OpenRouter's own `models` fallback does).
_MODEL_LIMIT_CODES = frozenset({"context_length_exceeded", "max_tokens_exceeded", "token_limit_exceeded"})


def tries_next_model(exc: GatewayError) -> bool:
    """A failure that is not worth retrying on this model but is on the next one."""
    return exc.code in _MODEL_LIMIT_CODES


def breaker_verdict(exc: GatewayError) -> bool | None:
    """What the model's circuit should record for this failure: False (failure), True (success), None (nothing)."""
    if exc.counts_against_circuit:
        return False
    return True if exc.model_answered else None
