"""Translate OpenRouter's error answers into the gateway's error tree (OpenAI envelope for clients)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.errors import (
    GatewayError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamClientError,
    UpstreamError,
    UpstreamTimeoutError,
)

# Upstream headers worth relaying on an error (rate-limit hints); everything else stays behind.
_RELAYED_HEADERS = ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_GENERIC_MESSAGES = {"Provider returned error", "Internal Server Error", ""}


def error_message(error: Mapping[str, Any]) -> str:
    """OpenRouter's message, or the provider's real one dug out of `metadata.raw` when the top one is generic."""
    message = str(error.get("message") or "")
    if message not in _GENERIC_MESSAGES:
        return message
    metadata = error.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, Mapping) else None
    if isinstance(raw, str) and raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw[:500]
        inner = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
        if isinstance(inner, str):
            return inner[:500]
    return message or "Upstream provider error"


def _error_type(error: Mapping[str, Any]) -> str | None:
    metadata = error.get("metadata")
    kind = error.get("error_type") or (metadata.get("error_type") if isinstance(metadata, Mapping) else None)
    return str(kind) if kind else None


def _status_of(error: Mapping[str, Any], http_status: int) -> int:
    code = error.get("code")
    if isinstance(code, int) and 400 <= code < 600:
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return http_status if http_status >= 400 else 502


def translate_error(http_status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
    """Map an OpenRouter error (any status, including an error inside a 200 body) to a GatewayError."""
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        parsed = {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        error = {"message": error} if isinstance(error, str) else {}
    return translate_error_object(_status_of(error, http_status), error, headers)


def translate_error_object(status: int, error: Mapping[str, Any], headers: Mapping[str, str]) -> GatewayError:
    relayed = {name: headers[name] for name in _RELAYED_HEADERS if name in headers}
    message = error_message(error)
    kind = _error_type(error)
    if status in (401, 402):
        # The gateway's own OpenRouter key failed: not the client's credentials, so never a client 401.
        reason = "authentication" if status == 401 else "credits"
        return UpstreamError(
            f"The gateway's upstream account was refused ({reason}); contact the gateway operator",
            code="upstream_account_refused",
        )
    if status == 403:
        return PermissionDeniedError(message, code=kind or "upstream_forbidden", headers=relayed)
    if status == 429:
        return RateLimitError(message, code=kind or "rate_limit_exceeded", headers=relayed)
    if status in (408, 504, 524):
        return UpstreamTimeoutError(message or "Upstream timed out", headers=relayed)
    if status in (503, 529):
        return ServiceUnavailableError(message, code=kind or "upstream_unavailable", headers=relayed)
    if 400 <= status < 500:
        return UpstreamClientError(message, status=status, code=kind or "upstream_rejected", headers=relayed)
    return UpstreamError(message, code=kind or "upstream_error", headers=relayed)
