"""Translate an OpenRouter in-stream error object into the gateway's OpenAI-shaped error."""

from __future__ import annotations

from typing import Any

from gateway.errors import (
    AuthenticationError,
    GatewayError,
    PermissionDeniedError,
    RateLimitError,
    UpstreamClientError,
    UpstreamError,
)

DEFAULT_MESSAGE = "Upstream reported an error during the stream"
DEFAULT_CODE = "upstream_error"

# OpenAI `type` follows the status; anything not listed is the upstream's fault (`api_error`).
_BY_STATUS: dict[int, type[GatewayError]] = {
    400: UpstreamClientError,
    422: UpstreamClientError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    429: RateLimitError,
}


def translate_error(error: object) -> GatewayError:
    """OpenRouter's `{code, message, metadata}` → a `GatewayError` carrying only safe fields.

    `metadata.raw` (the provider's body) and the top-level `user_id` are never copied: the
    first can hold provider internals, the second identifies the gateway's own account.
    """
    fields: dict[str, Any] = error if isinstance(error, dict) else {}
    metadata = fields.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    status = _status(fields, metadata)
    message = fields.get("message")
    if not isinstance(message, str) or not message:
        message = DEFAULT_MESSAGE
    error_class = _BY_STATUS.get(status, UpstreamError)
    return error_class(message, code=_code(fields, metadata), status=status)


def _status(fields: dict[str, Any], metadata: dict[str, Any]) -> int:
    # `code` is normally the HTTP-like integer; the 2026 availability form moves the status to
    # `http_status` and may omit `code`, and one documented example uses a string code.
    for candidate in (fields.get("code"), fields.get("http_status"), metadata.get("http_status")):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.isdigit():
            return int(candidate)
    return UpstreamError.status


def _code(fields: dict[str, Any], metadata: dict[str, Any]) -> str:
    for candidate in (metadata.get("error_type"), fields.get("error_type"), fields.get("code")):
        if isinstance(candidate, str) and candidate and not candidate.isdigit():
            return candidate
    return DEFAULT_CODE
