"""Serialising SSE frames the way OpenAI's API writes them."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import GatewayError, UpstreamError

DONE_FRAME = b"data: [DONE]\n\n"
# Response headers of every relayed or replayed stream: no caching, and no buffering by nginx-style proxies.
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

TRUNCATED_MESSAGE = "Upstream closed the stream before it finished"
TRUNCATED_CODE = "upstream_stream_truncated"

# Fields of a chunk that identify the response; the usage chunk repeats them like OpenAI's does.
HEAD_FIELDS = ("id", "created", "model", "provider", "system_fingerprint", "service_tier")


def data_frame(payload: bytes) -> bytes:
    if b"\n" in payload:
        # A multi-line payload (joined by the parser) has to go back out as several `data:`
        # lines, or the client would read the continuation lines as unknown fields.
        lines = b"".join(b"data: " + line + b"\n" for line in payload.split(b"\n"))
        return lines + b"\n"
    return b"data: " + payload + b"\n\n"


def comment_frame(text: bytes) -> bytes:
    return b": " + text + b"\n\n" if text else b":\n\n"


def error_frame(error: GatewayError) -> bytes:
    """The final event of a chat stream that failed after its first byte (the status is already sent)."""
    return b"data: " + error.body() + b"\n\n"


def responses_error_frame(error: GatewayError, sequence_number: int) -> bytes:
    """The Responses API's final `error` event: the same error fields, flat, in that API's event shape."""
    event = {"type": "error", "code": error.code, "message": error.message, "param": error.param,
             "sequence_number": sequence_number}
    return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"


def truncation_error() -> UpstreamError:
    return UpstreamError(TRUNCATED_MESSAGE, code=TRUNCATED_CODE)


def usage_frame(head: dict[str, Any], usage: dict[str, Any]) -> bytes:
    """OpenAI's final usage chunk: the response's identity, `choices: []` and the usage."""
    chunk: dict[str, Any] = {
        "id": head.get("id", ""),
        "object": "chat.completion.chunk",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
    }
    for field in HEAD_FIELDS[3:]:
        if head.get(field) is not None:
            chunk[field] = head[field]
    chunk["choices"] = []
    chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
