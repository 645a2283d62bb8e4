"""Per-choice delta rewriting: OpenRouter's repetitive deltas → OpenAI's incremental ones.

SDK accumulators (openai's `.stream()`, the npm SDK, LangChain) concatenate every string they
see in a delta, so a `role` or a tool call `id`/`name` repeated on each fragment turns into
`"assistantassistant…"` or a garbled function name. OpenAI sends them once; so do we.
"""

from __future__ import annotations

from typing import Any

from gateway.tool_arguments import EMPTY_ARGUMENTS

_TEXT_FIELDS = ("content", "reasoning", "refusal")


class ChoiceRewriter:
    """Remembers which choices and tool calls have started; rewrites each choice in place."""

    __slots__ = ("_argument_chars", "_index", "_started", "_tools_started", "completion_chars", "finish_reasons",
                 "texts")

    def __init__(self, choice_index: int | None = None, *, capture: bool = False) -> None:
        self._index = choice_index
        # The content deltas, kept only when the call captures output (otherwise one None check per chunk).
        self.texts: list[str] | None = [] if capture else None
        self._started: set[int] = set()
        self._tools_started: set[tuple[int, int]] = set()
        # Argument characters seen per tool call: a call that ends with none gets "{}" (gateway.tool_arguments).
        self._argument_chars: dict[tuple[int, int], int] = {}
        self.finish_reasons: dict[int, str] = {}
        self.completion_chars = 0

    def rewrite(self, choice: dict[str, Any]) -> bool:
        """Normalise one choice of a chunk in place; True when it changed."""
        changed = False
        index = choice.get("index", 0) if self._index is None else self._index
        if choice.get("index") != index:
            choice["index"] = index
            changed = True
        delta = choice.get("delta")
        if isinstance(delta, dict):
            changed |= self._rewrite_role(index, delta)
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                changed |= self._rewrite_tool_calls(index, tool_calls)
            self.completion_chars += _text_length(delta)
            if self.texts is not None and isinstance(delta.get("content"), str):
                self.texts.append(delta["content"])
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self.finish_reasons[index] = reason
            changed |= self._complete_arguments(index, choice)
        return changed

    def _complete_arguments(self, index: int, choice: dict[str, Any]) -> bool:
        """Before a choice finishes, a tool call that got no arguments gets "{}" (in this chunk's delta, which
        accumulators apply before the finish reason)."""
        empty = sorted(call for (owner, call), chars in self._argument_chars.items() if owner == index and not chars)
        if not empty:
            return False
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice["delta"] = {}
        calls = delta.get("tool_calls")
        if not isinstance(calls, list):
            calls = delta["tool_calls"] = []
        for call in empty:
            calls.append({"index": call, "function": {"arguments": EMPTY_ARGUMENTS}})
            self._argument_chars[(index, call)] = len(EMPTY_ARGUMENTS)
            self.completion_chars += len(EMPTY_ARGUMENTS)
        return True

    def _rewrite_role(self, index: int, delta: dict[str, Any]) -> bool:
        if index in self._started:
            if "role" in delta:
                del delta["role"]
                return True
            return False
        self._started.add(index)
        if delta.get("role") is None:
            # OpenAI's first delta always names the role; accumulators key the message on it.
            delta["role"] = "assistant"
            return True
        return False

    def _rewrite_tool_calls(self, index: int, tool_calls: list[Any]) -> bool:
        changed = False
        for call in tool_calls:
            if not isinstance(call, dict):
                continue
            key = (index, call.get("index", 0))
            if key in self._tools_started:
                changed |= _strip_identity(call)
            else:
                self._tools_started.add(key)
                if "type" not in call:
                    call["type"] = "function"
                    changed = True
            changed |= _ensure_arguments(call)
            arguments = call["function"].get("arguments")
            if isinstance(arguments, str):
                self.completion_chars += len(arguments)
                self._argument_chars[key] = self._argument_chars.get(key, 0) + len(arguments)
        return changed


def is_empty_choice(choice: object) -> bool:
    """The placeholder choice OpenRouter puts next to usage: no text, no finish reason."""
    if not isinstance(choice, dict) or choice.get("finish_reason"):
        return False
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return True
    return all(key == "role" or value is None or value == "" or value == [] for key, value in delta.items())


def _strip_identity(call: dict[str, Any]) -> bool:
    changed = False
    for field in ("id", "type"):
        if field in call:
            del call[field]
            changed = True
    function = call.get("function")
    if isinstance(function, dict) and "name" in function:
        del function["name"]
        changed = True
    return changed


def _ensure_arguments(call: dict[str, Any]) -> bool:
    # The openai SDK asserts every fragment has `function`; OpenAI always sends `arguments`.
    function = call.get("function")
    if not isinstance(function, dict):
        call["function"] = {"arguments": ""}
        return True
    if function.get("arguments") is None:
        function["arguments"] = ""
        return True
    return False


def _text_length(delta: dict[str, Any]) -> int:
    total = 0
    for field in _TEXT_FIELDS:
        value = delta.get(field)
        if isinstance(value, str):
            total += len(value)
    return total
