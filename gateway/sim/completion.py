"""Non-streaming chat completion bodies in OpenRouter's field order (OPENROUTER.md §2, §4.6)."""

from __future__ import annotations

from typing import Any

from gateway.sim.exchange import Exchange
from gateway.sim.png import png_data_url

MID_STREAM_ERROR = {"code": 502, "message": "Provider disconnected",
                    "metadata": {"error_type": "provider_unavailable"}}
# Messages OpenRouter puts on an account failure reported inside a stream (OPENROUTER.md §4.5).
_STREAM_ERROR_MESSAGES = {401: "User not found.", 402: "Insufficient credits. Add more using https://openrouter.ai/credits"}


def stream_error(status: int) -> dict[str, object]:
    """A mid-stream error object with the given `code` (the `stream_error_status` knob)."""
    return {"code": status, "message": _STREAM_ERROR_MESSAGES.get(status, "Provider returned error")}


def message(exchange: Exchange, content: str) -> dict[str, Any]:
    answer = exchange.answer
    reasoning = "".join(answer.reasoning).strip() if answer.reasoning and answer.reasoning_visible else None
    parts: str | list[dict[str, Any]] = content
    if exchange.knobs.assistant_content == "untyped_image_parts":
        # What a client replaying image history sends back: an image part carrying `image_url` but no `type`.
        parts = [{"type": "text", "text": content}, {"image_url": {"url": png_data_url(content)}}]
    result: dict[str, Any] = {"role": "assistant", "content": parts, "refusal": None, "reasoning": reasoning}
    if reasoning is not None:
        result["reasoning_details"] = [{"type": "reasoning.text", "text": reasoning, "format": "unknown", "index": 0}]
    if answer.tool_calls:
        result["tool_calls"] = [{"index": i, **call} for i, call in enumerate(answer.tool_calls)]
    if answer.images:
        result["images"] = answer.images
    return result


def completion_body(exchange: Exchange, usage: dict[str, Any]) -> dict[str, Any]:
    finish = exchange.answer.finish_reason
    choice = {"logprobs": None, "finish_reason": finish, "native_finish_reason": exchange.native_finish(finish),
              "index": 0, "message": message(exchange, "".join(exchange.answer.content).lstrip())}
    return _envelope(exchange, choice, usage)


def partial_body(exchange: Exchange, after_tokens: int, usage: dict[str, Any]) -> dict[str, Any]:
    """Partial content, `finish_reason: "error"` and `choices[0].error`, all with status 200."""
    content = "".join(exchange.answer.content[:after_tokens]).lstrip()
    choice = {"logprobs": None, "finish_reason": "error", "native_finish_reason": exchange.native_finish("error"),
              "index": 0, "message": {"role": "assistant", "content": content, "refusal": None, "reasoning": None},
              "error": MID_STREAM_ERROR}
    return _envelope(exchange, choice, usage)


def _envelope(exchange: Exchange, choice: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": exchange.generation_id, "provider": exchange.provider, "model": exchange.model,
            "object": "chat.completion", "created": exchange.created, "choices": [choice], "usage": usage}
