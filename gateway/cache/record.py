"""The other direction of replay.py: rebuild a `chat.completion` from a stream, so a streamed miss can
fill the cache with the same entry a JSON miss would.

Sans-IO like the normaliser it follows: feed it the bytes sent to the client as they go out. Only a
stream that reached `[DONE]` without an error yields a completion; anything cut short is not an answer
worth replaying.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.streaming.frames import HEAD_FIELDS
from gateway.streaming.sse import SSEEvent, SSEParser

# Delta fields that arrive in pieces and are concatenated; other delta fields are kept as last seen.
_TEXT_FIELDS = ("content", "reasoning", "refusal")


class _Choice:
    __slots__ = ("extra", "finish_reason", "native_finish_reason", "role", "texts", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.texts: dict[str, list[str]] = {}
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.extra: dict[str, Any] = {}
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None

    def add(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._add_delta(delta)
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        if isinstance(choice.get("native_finish_reason"), str):
            self.native_finish_reason = choice["native_finish_reason"]

    def _add_delta(self, delta: dict[str, Any]) -> None:
        for field, value in delta.items():
            if value is None:
                continue
            if field == "role":
                self.role = value
            elif field in _TEXT_FIELDS and isinstance(value, str):
                self.texts.setdefault(field, []).append(value)
            elif field == "tool_calls" and isinstance(value, list):
                for fragment in value:
                    if isinstance(fragment, dict):
                        self._add_tool_fragment(fragment)
            elif field == "reasoning_details" and isinstance(value, list):
                self.extra.setdefault(field, []).extend(value)
            else:
                self.extra[field] = value

    def _add_tool_fragment(self, fragment: dict[str, Any]) -> None:
        call = self.tool_calls.setdefault(
            fragment.get("index", 0), {"id": None, "type": "function", "function": {"name": None, "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fragment.get("type"):
            call["type"] = fragment["type"]
        function = fragment.get("function")
        if isinstance(function, dict):
            if function.get("name"):
                call["function"]["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                call["function"]["arguments"] += function["arguments"]

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": "".join(self.texts.get("content", ()))}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
            if not message["content"]:
                message["content"] = None  # what OpenAI's JSON answer carries beside tool calls
        if "reasoning" in self.texts:
            message["reasoning"] = "".join(self.texts["reasoning"])
        # Always present, as in OpenAI's JSON answer (its schema requires it).
        message["refusal"] = "".join(self.texts["refusal"]) if "refusal" in self.texts else None
        message.update(self.extra)
        return message


class StreamRecorder:
    """Accumulates one chat-completions stream; `completion()` is the equivalent JSON answer or None."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._head: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._failed = False

    def feed(self, data: bytes) -> None:
        for event in self._parser.feed(data):
            self._take(event)

    def completion(self) -> dict[str, Any] | None:
        for event in self._parser.flush():
            self._take(event)
        if not self._done or self._failed or not self._choices:
            return None
        completion: dict[str, Any] = {**self._head, "object": "chat.completion"}
        completion["choices"] = [self._render_choice(index) for index in sorted(self._choices)]
        if self._usage is not None:
            completion["usage"] = self._usage
        return completion

    def _render_choice(self, index: int) -> dict[str, Any]:
        choice = self._choices[index]
        rendered: dict[str, Any] = {
            "index": index,
            "message": choice.message(),
            "finish_reason": choice.finish_reason,
            "logprobs": None,  # not kept: a replay carries text, and OpenAI's schema wants the field present
        }
        if choice.native_finish_reason is not None:
            rendered["native_finish_reason"] = choice.native_finish_reason
        return rendered

    def _take(self, event: SSEEvent) -> None:
        if event.kind != "data" or self._done or self._failed:
            return
        if event.payload == b"[DONE]":
            self._done = True
            return
        try:
            chunk = orjson.loads(event.payload)
        except orjson.JSONDecodeError:
            self._failed = True
            return
        if not isinstance(chunk, dict) or chunk.get("error"):
            self._failed = True
            return
        for field in HEAD_FIELDS:
            if field not in self._head and chunk.get(field) is not None:
                self._head[field] = chunk[field]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                self._choices.setdefault(choice.get("index", 0), _Choice()).add(choice)


def completion_from_stream(stream: bytes) -> dict[str, Any] | None:
    """The whole of a recorded stream at once: the `chat.completion` it amounts to, or None."""
    recorder = StreamRecorder()
    recorder.feed(stream)
    return recorder.completion()
