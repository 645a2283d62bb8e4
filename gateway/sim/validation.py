"""Request checks OpenRouter makes before routing (OPENROUTER.md §1, §12 "Request validation").

Legacy fields (`usage`, `stream_options`, `transforms`, `include_reasoning`, `route`) are accepted and
ignored simply by not being checked here.
"""

from __future__ import annotations

from typing import Any

from gateway.sim.errors import SimError

PROVIDER_KEYS = frozenset({
    "order", "allow_fallbacks", "require_parameters", "data_collection", "zdr", "enforce_distillable_text",
    "only", "ignore", "quantizations", "sort", "max_price", "preferred_min_throughput", "preferred_max_latency",
})
MAX_STOP = 4
MAX_TOOL_NAME = 64


def _bad(message: str) -> SimError:
    return SimError(400, message, {"error_type": "invalid_request"})


def validate_request(body: dict[str, Any]) -> None:
    """Raise the 400 OpenRouter would give for a malformed chat request."""
    messages = body.get("messages")
    if messages is None:
        if not isinstance(body.get("prompt"), str):
            raise _bad("Input required: specify \"prompt\" or \"messages\"")
    elif not isinstance(messages, list) or not messages:
        raise _bad("Input validation failed: messages must be a non-empty array")
    elif not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise _bad("Input validation failed: every message needs a role")
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP:
        raise _bad(f"Input validation failed: stop accepts at most {MAX_STOP} sequences")
    _validate_tools(body.get("tools"))
    _validate_reasoning(body)
    _validate_provider(body.get("provider"))
    models = body.get("models")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise _bad("Input validation failed: models must be an array of strings")


def _validate_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad("Input validation failed: tools must be an array")
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _bad("Input validation failed: each tool needs function.name")
        if len(function["name"]) > MAX_TOOL_NAME:
            raise _bad(f"Input validation failed: tool name '{function['name'][:16]}…' is longer than "
                       f"{MAX_TOOL_NAME} characters")


def _validate_reasoning(body: dict[str, Any]) -> None:
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise _bad("Input validation failed: reasoning must be an object")
    effort = (reasoning or {}).get("effort")
    shorthand = body.get("reasoning_effort")
    if effort is not None and shorthand is not None and effort != shorthand:
        raise _bad("reasoning.effort and reasoning_effort were both given with different values")
    if reasoning and reasoning.get("effort") is not None and reasoning.get("max_tokens") is not None:
        raise _bad("Only one of reasoning.effort and reasoning.max_tokens may be specified")


def _validate_provider(provider: Any) -> None:
    if provider is None:
        return
    if not isinstance(provider, dict):
        raise _bad("Input validation failed: provider must be an object")
    unknown = sorted(set(provider) - PROVIDER_KEYS)
    if unknown:
        keys = ", ".join(f"'{key}'" for key in unknown)
        raise _bad(f"Input validation failed: provider: Unrecognized key(s) in object: {keys}")
