"""The one translator of OpenRouter's errors into the gateway's error family (`gateway.errors`).

Three shapes reach it: an HTTP error answer, an error inside a 200 body, and an error object inside a stream.
Each is read by its own small reader (what message and code to trust differs), then classified once by status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.errors import (
    GatewayError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamAccountError,
    UpstreamClientError,
    UpstreamError,
    UpstreamTimeoutError,
)

# Upstream headers worth relaying on an error (rate-limit hints); everything else stays behind.
_RELAYED_HEADERS = ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_GENERIC_MESSAGES = {"Provider returned error", "Internal Server Error", ""}
STREAM_DEFAULT_MESSAGE = "Upstream reported an error during the stream"
STREAM_DEFAULT_CODE = "upstream_error"
# OpenRouter's 402 credit pre-check prices the request's own max_tokens: "This request requires more credits, or
# fewer max_tokens. You requested up to 16384 tokens, but can only afford 3324." A smaller request would pass.
_AFFORDABLE = re.compile(r"can only afford (\d+)")
_SIZE_WORDING = ("fewer max_tokens", "can only afford")


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
    """Map an OpenRouter error answer (any status, including an error inside a 200 body) to a GatewayError."""
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        parsed = {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        error = {"message": error} if isinstance(error, str) else {}
    return translate_error_object(_status_of(error, http_status), error, headers)


def translate_error_object(status: int, error: Mapping[str, Any], headers: Mapping[str, str]) -> GatewayError:
    """An error object already separated from its answer, with the status it stands for."""
    relayed = {name: headers[name] for name in _RELAYED_HEADERS if name in headers}
    return classify(status, error_message(error), _error_type(error), relayed)


def translate_stream_error(error: object) -> GatewayError:
    """An in-stream `{code, message, metadata}` object → a GatewayError carrying only safe fields.

    `metadata.raw` (the provider's body) and the top-level `user_id` are never copied: the first can hold provider
    internals, the second identifies the gateway's own account. The status is fixed once the stream has begun, so
    only the type and code reach the client, in the final SSE error event.
    """
    fields: dict[str, Any] = error if isinstance(error, dict) else {}
    metadata = fields.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    message = fields.get("message")
    if not isinstance(message, str) or not message:
        message = STREAM_DEFAULT_MESSAGE
    return classify(_stream_status(fields, metadata), message, _stream_code(fields, metadata), {})


def classify(status: int, message: str, code: str | None, relayed: Mapping[str, str]) -> GatewayError:
    """The one mapping from an upstream status to the error class; `code` None takes the class's default."""
    if status == 402 and _priced_on_size(message):
        return _request_too_costly(message)
    if status in (401, 402):
        # The gateway's own OpenRouter key failed: not the client's credentials, so never a client 401.
        reason = "authentication" if status == 401 else "credits"
        return UpstreamAccountError(
            f"The gateway's upstream account was refused ({reason}); contact the gateway operator", reason=reason
        )
    if status == 403:
        return PermissionDeniedError(message, code=code or "upstream_forbidden", headers=relayed)
    if status == 429:
        return RateLimitError(message, code=code or "rate_limit_exceeded", headers=relayed)
    if status in (408, 504, 524):
        return UpstreamTimeoutError(message or "Upstream timed out", code=code, headers=relayed)
    if status in (503, 529):
        return ServiceUnavailableError(message, code=code or "upstream_unavailable", headers=relayed)
    if 400 <= status < 500:
        return UpstreamClientError(message, status=status, code=code or "upstream_rejected", headers=relayed)
    return UpstreamError(message, code=code or "upstream_error", headers=relayed)


def _priced_on_size(message: str) -> bool:
    """The 402 would go away with a smaller request: its wording says so and some tokens are still affordable."""
    if not any(wording in message for wording in _SIZE_WORDING):
        return False
    affordable = _AFFORDABLE.search(message)
    return affordable is None or int(affordable.group(1)) > 0


def _request_too_costly(message: str) -> GatewayError:
    """A 402 priced on the request's own size: a smaller max_tokens would be served, so it is the client's 400.

    The account's balance stays behind; only how many tokens would fit is passed on, since that is what to change.
    """
    affordable = _AFFORDABLE.search(message)
    hint = f" (at most {affordable.group(1)} tokens fit now)" if affordable else ""
    return UpstreamClientError(
        f"The request asks for more output tokens than the gateway's upstream credits cover; lower max_tokens{hint}.",
        status=400, code="max_tokens_unaffordable", param="max_tokens",
    )


def _stream_status(fields: dict[str, Any], metadata: dict[str, Any]) -> int:
    # `code` is normally the HTTP-like integer; the 2026 availability form moves the status to `http_status` and
    # may omit `code`, and one documented example uses a string code.
    for candidate in (fields.get("code"), fields.get("http_status"), metadata.get("http_status")):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.isdigit():
            return int(candidate)
    return UpstreamError.status


def _stream_code(fields: dict[str, Any], metadata: dict[str, Any]) -> str:
    for candidate in (metadata.get("error_type"), fields.get("error_type"), fields.get("code")):
        if isinstance(candidate, str) and candidate and not candidate.isdigit():
            return candidate
    return STREAM_DEFAULT_CODE
