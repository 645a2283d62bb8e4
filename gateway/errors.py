"""One error family for everything the gateway answers itself, and its one renderer (OpenAI's envelope).

Each error knows what the request path needs to decide about it: its HTTP status and OpenAI `type`/`code`,
whether another upstream attempt may succeed (`retryable`), what the model's circuit should hear of it
(`counts_against_circuit`, `model_answered`) and, for an upstream call that failed, the attempts made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from gateway.resilience.outcome import Attempt


class GatewayError(Exception):
    """Base of every error the gateway reports to a client.

    Each subclass fixes the HTTP status, OpenAI `type` and how the executor treats it; `code`, `param`, `status`
    and the two verdicts may be overridden per raise.
    """

    status: int = 500
    type: str = "api_error"
    code: str | None = None
    retryable: bool = False  # another attempt (same model later, or the next model) may well not see it
    counts_against_circuit: bool = False  # evidence that the model is unhealthy
    model_answered: bool = False  # the model answered (the request was bad): a success for its circuit

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        counts_against_circuit: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retryable is not None:
            self.retryable = retryable
        if counts_against_circuit is not None:
            self.counts_against_circuit = counts_against_circuit
        self.headers: dict[str, str] = dict(headers or {})
        self.attempts: tuple[Attempt, ...] = ()  # set by the executor when an upstream call ends in this error

    def fields(self) -> dict[str, object]:
        """The OpenAI error object: what a client sees, in JSON bodies and SSE error events alike."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def envelope(self) -> dict[str, object]:
        return {"error": self.fields()}

    def body(self) -> bytes:
        """The one rendering of the OpenAI JSON envelope `{"error": {message, type, param, code}}`."""
        return orjson.dumps(self.envelope())


class InvalidRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"


class ModelNotFoundError(InvalidRequestError):
    status = 404
    code = "model_not_found"


class PayloadTooLargeError(InvalidRequestError):
    status = 413
    code = "payload_too_large"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"

    def __init__(self, message: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.headers.setdefault("www-authenticate", 'Bearer realm="gateway"')


class PermissionDeniedError(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"
    model_answered = True  # upstream, a 403 is the request's (moderation, provider terms), not the model's health


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True
    counts_against_circuit = True


class BudgetExceededError(GatewayError):
    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"

    def __init__(self, message: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.headers.setdefault("x-should-retry", "false")


class UpstreamError(GatewayError):
    """OpenRouter failed, or answered with something we cannot use (502 unless told otherwise)."""

    status = 502
    type = "api_error"
    code = "upstream_error"
    retryable = True
    counts_against_circuit = True


class UpstreamAccountError(UpstreamError):
    """OpenRouter refused the gateway's own key or credits: the operator's problem, never the client's 401.

    Retrying or failing over cannot help (every model would be refused the same way), and it says nothing about
    the model, so the circuit does not hear of it; `x-should-retry: false` tells SDKs not to retry either.
    """

    code = "upstream_account_refused"
    retryable = False
    counts_against_circuit = False

    def __init__(self, message: str, *, reason: str = "authentication", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reason = reason  # "authentication" (the key) or "credits": what the operator must fix
        self.headers["x-should-retry"] = "false"


class UpstreamClientError(GatewayError):
    """An upstream 4xx that is the client's fault: passed through with OpenRouter's status and message."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_rejected"
    model_answered = True


class ServiceUnavailableError(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"
    retryable = True
    counts_against_circuit = True


class UpstreamTimeoutError(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"
    retryable = True
    counts_against_circuit = True
