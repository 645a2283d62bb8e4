"""One error tree for everything the gateway answers itself, rendered in OpenAI's envelope."""

from __future__ import annotations

from collections.abc import Mapping

import orjson


class GatewayError(Exception):
    """Base of every error the gateway reports to a client.

    Each subclass fixes the HTTP status and OpenAI `type`; `code` and `param` may vary per raise.
    """

    status: int = 500
    type: str = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})

    def envelope(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def body(self) -> bytes:
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


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


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


class UpstreamClientError(GatewayError):
    """An upstream 4xx that is the client's fault: passed through with OpenRouter's status and message."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_rejected"


class ServiceUnavailableError(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


class UpstreamTimeoutError(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"
