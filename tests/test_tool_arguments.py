"""JSON answers: a tool call without arguments (or with an empty string) gets "{}"; others are untouched."""

from __future__ import annotations

import copy
import json

import openai

from gateway.tool_arguments import fill_missing_arguments

ANSWER = {
    "id": "gen-1", "object": "chat.completion", "created": 1, "model": "openai/gpt-4o-mini",
    "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "list_files"}},
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
            {"id": "call_3", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        ]},
    }],
}


def test_missing_arguments_become_an_empty_object() -> None:
    answer = copy.deepcopy(ANSWER)
    assert fill_missing_arguments(answer) is True
    calls = answer["choices"][0]["message"]["tool_calls"]  # type: ignore[index]
    assert [json.loads(call["function"]["arguments"]) for call in calls] == [{}, {}, {"city": "Paris"}]
    assert fill_missing_arguments(answer) is False  # idempotent
    # What the openai SDK then parses: every arguments a string, as OpenAI always sends.
    parsed = openai.types.chat.ChatCompletion.model_validate(answer)
    assert [call.function.arguments for call in parsed.choices[0].message.tool_calls or []] == [  # type: ignore[union-attr]
        "{}", "{}", '{"city":"Paris"}'
    ]


def test_answers_without_tool_calls_are_untouched() -> None:
    plain = {"choices": [{"message": {"role": "assistant", "content": "hi"}}, {"message": None}, "odd"]}
    before = copy.deepcopy(plain)
    assert fill_missing_arguments(plain) is False and plain == before
    assert fill_missing_arguments({"choices": None}) is False
    assert fill_missing_arguments({"choices": [{"message": {"tool_calls": [None, {"function": "x"}]}}]}) is False
