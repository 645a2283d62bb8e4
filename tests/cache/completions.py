"""Cached `chat.completion` answers in the shapes OpenRouter returns them."""

from __future__ import annotations

from typing import Any

USAGE: dict[str, Any] = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21, "cost": 0.0000071}
HEAD: dict[str, Any] = {
    "id": "gen-1767000000-Ab3dEf6hIj9kLm2nOp4q",
    "object": "chat.completion",
    "created": 1767000000,
    "model": "z-ai/glm-4.5",
    "provider": "DeepInfra",
}


def text_completion(content: str = "Hello, world", **message: Any) -> dict[str, Any]:
    return {
        **HEAD,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
                "native_finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }


def tool_completion() -> dict[str, Any]:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    return {
        **HEAD,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": calls},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": USAGE,
    }


def two_choice_completion(second_finish: str = "length") -> dict[str, Any]:
    return {
        **HEAD,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "first"}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "second"}, "finish_reason": second_finish},
        ],
        "usage": USAGE,
    }
