"""Realistic OpenRouter SSE byte streams (shapes from OPENROUTER.md §3, §3.1) and an
independent reader for what the normaliser writes."""

from __future__ import annotations

import json
from typing import Any

import orjson

GENERATION_ID = "gen-1767000000-Ab3dEf6hIj9kLm2nOp4q"
HEAD: dict[str, Any] = {
    "id": GENERATION_ID,
    "provider": "DeepInfra",
    "model": "z-ai/glm-4.5",
    "object": "chat.completion.chunk",
    "created": 1767000000,
}
PROCESSING = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
USAGE: dict[str, Any] = {
    "prompt_tokens": 9,
    "completion_tokens": 12,
    "total_tokens": 21,
    "cost": 0.0000071,
    "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0},
    "cost_details": {
        "upstream_inference_cost": None,
        "upstream_inference_prompt_cost": 0.0000024,
        "upstream_inference_completions_cost": 0.0000047,
    },
    "completion_tokens_details": {"reasoning_tokens": 4, "image_tokens": 0},
}
USAGE_SHAPES = ("empty_choices", "empty_delta", "merged")


def choice(delta: dict[str, Any], *, finish: str | None = None, index: int = 0) -> dict[str, Any]:
    """An OpenRouter choice: `role` repeated in every delta, as observed on the wire."""
    return {
        "index": index,
        "delta": {"role": "assistant", **delta},
        "finish_reason": finish,
        "native_finish_reason": finish,
        "logprobs": None,
    }


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**HEAD, "choices": list(choices), **extra}


def event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def ending(shape: str, finish: str = "stop") -> bytes:
    """Finish chunk + usage in one of OpenRouter's three shapes, then `[DONE]`."""
    finish_choice = choice({"content": ""}, finish=finish)
    if shape == "merged":
        return event(chunk(finish_choice, usage=USAGE)) + DONE
    usage_choices = [choice({"content": ""})] if shape == "empty_delta" else []
    usage_chunk = chunk(*usage_choices, usage=USAGE)
    return event(chunk(finish_choice)) + event(usage_chunk) + DONE


def reasoning_delta(text: str) -> dict[str, Any]:
    details = [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]
    return {"content": "", "reasoning": text, "reasoning_details": details}


def text_stream(shape: str = "empty_choices", words: tuple[str, ...] = ("Hello", ", ", "world")) -> bytes:
    """Keep-alives, two reasoning deltas, content deltas, finish, usage, [DONE]."""
    parts = [PROCESSING, PROCESSING, PROCESSING]
    parts += [event(chunk(choice(reasoning_delta(text)))) for text in ("Let me", " think")]
    parts += [event(chunk(choice({"content": word}))) for word in words]
    return b"".join(parts) + ending(shape)


def tool_call_fragments() -> bytes:
    """Two parallel tool calls; OpenRouter repeats id/type/name on every fragment."""
    calls = [
        (0, "call_weather_1", "get_weather", ['{"city', '": "Par', 'is"}']),
        (1, "call_time_2", "get_time", ['{"tz":', ' "CET"}']),
    ]
    parts = [PROCESSING]
    for index, call_id, name, fragments in calls:
        for fragment in fragments:
            call = {"index": index, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": fragment}}
            parts.append(event(chunk(choice({"content": None, "tool_calls": [call]}))))
    return b"".join(parts)


def tool_call_stream(shape: str = "empty_choices") -> bytes:
    return tool_call_fragments() + ending(shape, finish="tool_calls")


UNIFIED_ERROR: dict[str, Any] = {
    **HEAD,
    "error": {
        "code": 502,
        "message": "Provider disconnected",
        "metadata": {"error_type": "provider_unavailable", "provider_code": "ECONNRESET", "raw": "secret body"},
    },
    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error", "native_finish_reason": "error"}],
}
LEGACY_ERROR: dict[str, Any] = {
    "error": {"message": "Rate limit exceeded: free tier", "code": 429},
    "user_id": "user_2abcSECRET",
}


def read_events(data: bytes) -> list[Any]:
    """Parse normalised output strictly: every event is `data: …\\n\\n` or a `: comment\\n\\n`.

    Returns JSON objects, the string "[DONE]", or ("comment", text) tuples. Deliberately not
    the parser under test.
    """
    if not data:
        return []
    assert data.endswith(b"\n\n"), data[-80:]
    events: list[Any] = []
    for block in data[:-2].split(b"\n\n"):
        assert b"\n" not in block and b"\r" not in block, block
        if block.startswith(b":"):
            events.append(("comment", block[1:].decode().strip()))
            continue
        assert block.startswith(b"data: "), block
        payload = block[len(b"data: "):]
        events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events


def data_chunks(data: bytes) -> list[dict[str, Any]]:
    return [item for item in read_events(data) if isinstance(item, dict)]
