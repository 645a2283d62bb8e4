"""Per-request simulator options, from the body's `sim` object, the `X-Sim-Options` header and single headers.

The gateway forwards request bodies untouched but never client headers, so the body form is the one that
works end to end; headers win when both are present (handy when calling the simulator directly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.sim.config import SimConfig
from gateway.sim.errors import SimError
from gateway.sim.faults import parse_fault_value

USAGE_SHAPES = ("empty_choices", "empty_delta", "merged")
# Real shapes OpenRouter sends that strict clients trip on (OPENROUTER.md §10b, issue 16):
# "omit": tool calls without `function.arguments` (a tool whose parameters are all optional).
TOOL_ARGUMENT_SHAPES = ("string", "omit")
# "untyped_image_parts": the assistant's content as parts, the image part with `image_url` but no `type`.
ASSISTANT_CONTENT_SHAPES = ("string", "untyped_image_parts")
_SINGLE_HEADERS = {
    "x-sim-error": "error", "x-sim-retry-after": "retry_after", "x-sim-error-after-tokens": "error_after_tokens",
    "x-sim-completion-tokens": "completion_tokens", "x-sim-ttft-ms": "ttft_ms",
    "x-sim-inter-token-ms": "inter_token_ms",
}


@dataclass(slots=True)
class Knobs:
    error: int | str | None
    error_after_tokens: int
    stall_ms: float
    retry_after: float | None
    ttft_ms: float
    inter_token_ms: float
    chunk_tokens: int
    completion_tokens: int | None
    usage_chunk: str
    done_after_error: bool
    processing_comments: int
    keepalive_ms: float
    fail_models: frozenset[str] | None
    stream_error_status: int | None  # the `code` of a mid-stream error object (None: the observed 502)
    tool_arguments: str = "string"
    assistant_content: str = "string"


def _collect(body: dict[str, Any], headers: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if isinstance(body.get("sim"), dict):
        options.update(body["sim"])
    raw = headers.get("x-sim-options")
    if raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SimError(400, "X-Sim-Options is not valid JSON") from exc
        if isinstance(parsed, dict):
            options.update(parsed)
    for header, key in _SINGLE_HEADERS.items():
        value = headers.get(header)
        if value is not None:
            options[key] = value
    return options


def read_knobs(body: dict[str, Any], headers: Any, config: SimConfig) -> Knobs:
    """Merge request options over the global config; a malformed option is the caller's 400."""
    options = _collect(body, headers) if ("sim" in body or _has_sim_header(headers)) else {}
    try:
        error = options.get("error")
        fail_models = options.get("fail_models")
        knobs = Knobs(
            error=None if error is None else parse_fault_value(error),
            error_after_tokens=int(options.get("error_after_tokens", 3)),
            stall_ms=float(options.get("stall_ms", 1000)),
            retry_after=None if options.get("retry_after") is None else float(options["retry_after"]),
            ttft_ms=float(options.get("ttft_ms", config.ttft_ms)),
            inter_token_ms=float(options.get("inter_token_ms", config.inter_token_ms)),
            chunk_tokens=max(1, int(options.get("chunk_tokens", config.chunk_tokens))),
            completion_tokens=None if options.get("completion_tokens") is None else int(options["completion_tokens"]),
            usage_chunk=str(options.get("usage_chunk", config.usage_chunk)),
            done_after_error=_flag(options.get("done_after_error", config.done_after_error)),
            processing_comments=int(options.get("processing_comments", config.processing_comments)),
            keepalive_ms=float(options.get("keepalive_ms", config.keepalive_ms)),
            fail_models=None if fail_models is None else frozenset(fail_models),
            stream_error_status=None if options.get("stream_error_status") is None
            else int(options["stream_error_status"]),
            tool_arguments=str(options.get("tool_arguments", "string")),
            assistant_content=str(options.get("assistant_content", "string")),
        )
    except (TypeError, ValueError) as exc:
        raise SimError(400, f"Invalid sim option: {exc}") from exc
    if knobs.usage_chunk not in USAGE_SHAPES:
        raise SimError(400, f"Invalid sim option: usage_chunk must be one of {', '.join(USAGE_SHAPES)}")
    if knobs.tool_arguments not in TOOL_ARGUMENT_SHAPES:
        raise SimError(400, f"Invalid sim option: tool_arguments must be one of {', '.join(TOOL_ARGUMENT_SHAPES)}")
    if knobs.assistant_content not in ASSISTANT_CONTENT_SHAPES:
        raise SimError(400, "Invalid sim option: assistant_content must be one of "
                            f"{', '.join(ASSISTANT_CONTENT_SHAPES)}")
    return knobs


def _has_sim_header(headers: Any) -> bool:
    return any(name.startswith("x-sim-") for name in headers)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
