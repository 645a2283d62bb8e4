"""OpenRouter's error envelope and the catalogue of errors the simulator can produce.

Every error is `{"error": {"code", "message", "metadata"?}, "user_id"}` with the HTTP status equal to `code`
(OPENROUTER.md §4.1); the message and metadata of each kind follow the observed wire shapes (§4.2-4.5).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

CREDITS_URL = "https://openrouter.ai/settings/credits"
INTEGRATIONS_URL = "https://openrouter.ai/settings/integrations"

# Kinds that change how a successful answer is delivered rather than failing the attempt.
DELIVERY_KINDS = frozenset(
    {"error_in_200", "partial_200", "mid_stream", "mid_stream_legacy", "disconnect", "stall"}
)
# `credits_exhausted` is the 402 of an account with no credits left; status 402 is the "request too large for
# the credits left" variant (OPENROUTER.md §346).
ATTEMPT_KINDS = frozenset(
    {"context_length", "moderation", "upstream_rate_limit", "free_rate_limit", "credits_exhausted"}
)
STATUSES = frozenset({400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 524, 529})


class SimError(Exception):
    """An error answer: status, message, optional metadata and extra response headers."""

    def __init__(
        self, status: int, message: str, metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata = metadata
        self.headers = headers or {}

    def error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.metadata is not None:
            error["metadata"] = self.metadata
        return error

    def body(self, user_id: str) -> bytes:
        return orjson.dumps({"error": self.error_object(), "user_id": user_id})


def is_known_fault(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in STATUSES
    return value in DELIVERY_KINDS or value in ATTEMPT_KINDS


def provider_error(status: int, provider: str, raw: str, upstream_fault: bool = True) -> SimError:
    metadata = {"raw": raw, "provider_name": provider, "isDownstreamPipeClean": True,
                "isErrorUpstreamFault": upstream_fault}
    return SimError(status, "Provider returned error", metadata)


def middle_truncate(text: str, limit: int = 100) -> str:
    """OpenRouter shortens `flagged_input` to ≤100 chars by cutting out the middle."""
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return text[:keep] + "..." + text[len(text) - (limit - 3 - keep):]


def moderation_error(model: str, provider: str, flagged: str) -> SimError:
    message = (f"{model} requires moderation on {provider}. Your input was flagged for \"misc\". "
               "No credits were charged.")
    metadata = {"reasons": ["misc"], "flagged_input": middle_truncate(flagged), "provider_name": provider,
                "model_slug": model}
    return SimError(403, message, metadata)


def context_length_error(model: str, limit: int, requested: int) -> SimError:
    message = (f"This endpoint's maximum context length is {limit} tokens. However, you requested about "
               f"{requested} tokens. Please reduce the length of either one, or use the \"middle-out\" "
               "transform to compress your prompt automatically.")
    return SimError(400, message, {"error_type": "context_length_exceeded", "provider_name": None, "model": model})


def free_limit_error(per_day: bool, limit: int, reset_ms: int) -> SimError:
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_ms)}
    if per_day:
        message = ("Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model "
                   "requests per day")
    else:
        message = "Rate limit exceeded: free-models-per-min. "
    return SimError(429, message, {"headers": dict(headers), "provider_name": None}, headers)


def credits_error(requested: int, affordable: int) -> SimError:
    message = (f"This request requires more credits, or fewer max_tokens. You requested up to {requested} "
               f"tokens, but can only afford {affordable}. To increase, visit {CREDITS_URL} and add more credits")
    return SimError(402, message, {"error_type": "payment_required"})


def exhausted_credits_error() -> SimError:
    return SimError(402, "Insufficient credits. Add more using https://openrouter.ai/credits",
                    {"error_type": "payment_required"})


def invalid_model_error(slug: str) -> SimError:
    return SimError(400, f"{slug} is not a valid model ID", {"availability": {"code": "model_not_found"}})


def no_endpoints_error(slug: str, filtered: bool = False) -> SimError:
    if filtered:
        return SimError(404, f"No endpoints found for {slug} that match your provider preferences.",
                        {"availability": {"code": "constraint_filtered"}})
    return SimError(404, f"No endpoints found for {slug}.")


def fault_error(fault: int | str, model: str, provider: str, retry_after: float | None) -> SimError:
    """The error a failing model attempt answers with, for an injected status or kind."""
    retry = {"Retry-After": _seconds(retry_after)} if retry_after is not None else {}
    if fault in ("context_length",):
        return context_length_error(model, 1024, 4096)
    if fault == "moderation":
        return moderation_error(model, provider, "(simulated moderation fault)")
    if fault in ("upstream_rate_limit", 429):
        raw = (f"{model} is temporarily rate-limited upstream. Please retry shortly, or add your own key to "
               f"accumulate your rate limits: {INTEGRATIONS_URL}")
        error = provider_error(429, provider, raw)
        error.headers.update(retry)
        return error
    if fault == "credits_exhausted":
        return exhausted_credits_error()
    if fault == "free_rate_limit":
        return free_limit_error(False, 20, int(time.time() * 1000) + 60_000)
    error = _STATUS_ERRORS[int(fault)](model, provider)
    if int(fault) == 503:
        error.headers.update(retry)
    return error


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _provider_400(model: str, provider: str) -> SimError:
    raw = orjson.dumps({"error": {"message": "Invalid request: simulated provider rejection",
                                  "type": "invalid_request_error"}}).decode()
    return provider_error(400, provider, raw, upstream_fault=False)


_STATUS_ERRORS: dict[int, Any] = {
    400: _provider_400,
    401: lambda model, provider: SimError(401, "User not found."),
    402: lambda model, provider: credits_error(4096, 0),
    403: lambda model, provider: moderation_error(model, provider, "(simulated moderation fault)"),
    404: lambda model, provider: no_endpoints_error(model),
    408: lambda model, provider: SimError(408, "Operation timed out. Please try again later.",
                                          {"error_type": "timeout"}),
    413: lambda model, provider: SimError(413, "Request payload too large", {"error_type": "payload_too_large"}),
    422: lambda model, provider: SimError(422, "Unprocessable request", {"error_type": "unprocessable"}),
    500: lambda model, provider: SimError(500, "Internal Server Error", {"error_type": "server"}),
    502: lambda model, provider: provider_error(502, provider, "upstream connect error or disconnect/reset"),
    503: lambda model, provider: SimError(503, "No available model provider that meets your routing requirements",
                                          {"error_type": "provider_overloaded"}),
    504: lambda model, provider: SimError(504, "Provider timed out", {"error_type": "timeout",
                                                                     "provider_name": provider}),
    524: lambda model, provider: SimError(524, "Request timed out. Please try again later."),
    529: lambda model, provider: provider_error(529, provider, "Overloaded"),
}
