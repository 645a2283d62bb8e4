"""Serve a cached chat completion to a streaming client: the JSON answer rebuilt as OpenAI's SSE chunks.

Entries are stored as non-streaming `chat.completion` JSON whichever way the first request came in,
so one entry answers both kinds of caller. The replay sends each choice whole in one delta: clients
accumulate deltas, so one delta carrying everything reads the same as many small ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.streaming.frames import DONE_FRAME, HEAD_FIELDS, data_frame, usage_frame

# Message fields rebuilt rather than copied into the delta.
_REBUILT = frozenset({"role", "content", "tool_calls"})


def replay_chat_stream(completion: Mapping[str, Any], *, include_usage: bool) -> bytes:
    """The SSE bytes of `completion`: per choice an opening and a finish chunk, the usage chunk when
    asked for (and known), then `[DONE]`. Every chunk repeats the response's id, created and model."""
    head = {field: completion[field] for field in HEAD_FIELDS if completion.get(field) is not None}
    frames: list[bytes] = []
    for position, choice in enumerate(completion.get("choices") or ()):
        if not isinstance(choice, Mapping):
            continue
        index = choice.get("index", position)
        opening: dict[str, Any] = {"index": index, "delta": _delta(choice.get("message")), "finish_reason": None}
        if choice.get("logprobs") is not None:
            opening["logprobs"] = choice["logprobs"]
        closing: dict[str, Any] = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
        if choice.get("native_finish_reason") is not None:
            closing["native_finish_reason"] = choice["native_finish_reason"]
        frames.append(_chunk_frame(head, opening))
        frames.append(_chunk_frame(head, closing))
    usage = completion.get("usage")
    if include_usage and isinstance(usage, Mapping):
        frames.append(usage_frame(head, dict(usage)))
    frames.append(DONE_FRAME)
    return b"".join(frames)


def _delta(message: object) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        return {"role": "assistant", "content": ""}
    delta: dict[str, Any] = {"role": message.get("role") or "assistant", "content": message.get("content")}
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list) and tool_calls:
        delta["tool_calls"] = [_tool_call_chunk(position, call) for position, call in enumerate(tool_calls)]
    # Everything else the message carries (reasoning, reasoning_details, refusal, annotations, images…)
    # has the same shape in a delta, so it is copied rather than listed.
    for field, value in message.items():
        if field not in _REBUILT and value is not None:
            delta[field] = value
    return delta


def _tool_call_chunk(position: int, call: object) -> dict[str, Any]:
    """A message tool call as its one stream fragment: chunks need the `index` messages do not carry."""
    if not isinstance(call, Mapping):
        return {"index": position, "function": {"arguments": ""}}
    function = call.get("function") if isinstance(call.get("function"), Mapping) else {}
    fragment: dict[str, Any] = {
        "index": call.get("index", position),
        "id": call.get("id"),
        "type": call.get("type") or "function",
        "function": {"name": function.get("name"), "arguments": function.get("arguments") or ""},
    }
    return fragment


def _chunk_frame(head: Mapping[str, Any], choice: dict[str, Any]) -> bytes:
    chunk: dict[str, Any] = {
        "id": head.get("id", ""),
        "object": "chat.completion.chunk",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
    }
    for field in HEAD_FIELDS[3:]:
        if head.get(field) is not None:
            chunk[field] = head[field]
    chunk["choices"] = [choice]
    return data_frame(orjson.dumps(chunk))
