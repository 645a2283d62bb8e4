"""A streamed answer recorded into the same `chat.completion` entry a JSON answer would make."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.cache import StreamRecorder, completion_from_stream, replay_chat_stream
from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.cache.completions import text_completion, tool_completion, two_choice_completion
from tests.openapi_schema import validate
from tests.streaming.upstream import UNIFIED_ERROR, event, text_stream, tool_call_stream


def normalised(upstream: bytes) -> bytes:
    normalizer = ChatStreamNormalizer(include_usage=True)
    return normalizer.feed(upstream) + normalizer.finish()


@pytest.mark.parametrize("completion", [text_completion(), tool_completion(), two_choice_completion()])
def test_a_replay_records_back_to_the_same_answer(completion: dict[str, Any]) -> None:
    recorded = completion_from_stream(replay_chat_stream(completion, include_usage=True))
    assert recorded is not None
    for field in ("id", "created", "model", "provider", "usage"):
        assert recorded[field] == completion[field]
    assert recorded["object"] == "chat.completion"
    assert [(c["index"], present(c["message"]), c["finish_reason"]) for c in recorded["choices"]] == [
        (c["index"], present(c["message"]), c["finish_reason"]) for c in completion["choices"]
    ]


def present(message: dict[str, Any]) -> dict[str, Any]:
    """A message without its null fields: `"refusal": null` and no `refusal` say the same."""
    return {field: value for field, value in message.items() if value is not None or field == "content"}


def test_a_normalised_upstream_text_stream_records_its_text_reasoning_and_usage() -> None:
    recorded = completion_from_stream(normalised(text_stream("merged")))
    assert recorded is not None
    validate("CreateChatCompletionResponse", recorded)
    message = recorded["choices"][0]["message"]
    assert message["content"] == "Hello, world"
    assert message["reasoning"] == "Let me think"
    assert recorded["choices"][0]["finish_reason"] == "stop"
    assert recorded["usage"]["total_tokens"] == 21


def test_a_normalised_tool_call_stream_records_whole_calls() -> None:
    recorded = completion_from_stream(normalised(tool_call_stream()))
    assert recorded is not None
    validate("CreateChatCompletionResponse", recorded)
    message = recorded["choices"][0]["message"]
    assert message["content"] is None
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]] == [
        ("call_weather_1", "get_weather", '{"city": "Paris"}'),
        ("call_time_2", "get_time", '{"tz": "CET"}'),
    ]


def test_fed_in_arbitrary_pieces_it_records_the_same() -> None:
    stream = normalised(text_stream())
    recorder = StreamRecorder()
    for start in range(0, len(stream), 7):
        recorder.feed(stream[start : start + 7])
    assert recorder.completion() == completion_from_stream(stream)


def test_a_stream_cut_before_done_records_nothing() -> None:
    stream = replay_chat_stream(text_completion(), include_usage=True)
    assert completion_from_stream(stream.removesuffix(b"data: [DONE]\n\n")) is None


def test_a_stream_that_ended_in_an_error_records_nothing() -> None:
    upstream = text_stream().split(b"data: [DONE]")[0] + event(UNIFIED_ERROR)
    assert completion_from_stream(normalised(upstream)) is None


def test_a_stream_without_choices_records_nothing() -> None:
    assert completion_from_stream(b"data: [DONE]\n\n") is None
