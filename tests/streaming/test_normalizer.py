from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.streaming.upstream import (
    DONE,
    GENERATION_ID,
    HEAD,
    PROCESSING,
    USAGE,
    USAGE_SHAPES,
    choice,
    chunk,
    data_chunks,
    event,
    read_events,
    text_stream,
    tool_call_stream,
)


def normalise(stream: bytes, **options: Any) -> tuple[ChatStreamNormalizer, bytes]:
    options.setdefault("include_usage", False)
    normalizer = ChatStreamNormalizer(**options)
    return normalizer, normalizer.feed(stream) + normalizer.finish()


def deltas(output: bytes) -> list[dict[str, Any]]:
    return [item["choices"][0]["delta"] for item in data_chunks(output) if item["choices"]]


def test_keepalive_comments_are_forwarded_as_comments() -> None:
    _, output = normalise(text_stream())
    events = read_events(output)
    assert events[:3] == [("comment", "OPENROUTER PROCESSING")] * 3
    assert output.startswith(PROCESSING * 3)
    assert b"data: \n" not in output and b"data:\n" not in output


def test_role_only_on_the_first_delta() -> None:
    _, output = normalise(text_stream())
    roles = [delta.get("role") for delta in deltas(output)]
    assert roles[0] == "assistant"
    assert roles[1:] == [None] * (len(roles) - 1)
    assert len(roles) == 6  # two reasoning, three content, one finish


def test_role_is_added_when_the_first_delta_lacks_it() -> None:
    first = chunk({"index": 0, "delta": {"content": "Hi"}, "finish_reason": None})
    _, output = normalise(event(first) + DONE)
    assert deltas(output)[0] == {"role": "assistant", "content": "Hi"}


def test_reasoning_and_openrouter_fields_are_kept() -> None:
    _, output = normalise(text_stream())
    chunks = data_chunks(output)
    first = chunks[0]
    assert first["provider"] == "DeepInfra"
    assert first["choices"][0]["native_finish_reason"] is None
    assert first["choices"][0]["delta"]["reasoning"] == "Let me"
    assert first["choices"][0]["delta"]["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Let me", "format": "unknown", "index": 0}
    ]
    assert deltas(output)[1] == {
        "content": "",
        "reasoning": " think",
        "reasoning_details": [{"type": "reasoning.text", "text": " think", "format": "unknown", "index": 0}],
    }


def test_parallel_tool_calls_carry_identity_only_on_their_first_fragment() -> None:
    _, output = normalise(tool_call_stream())
    fragments = [call for delta in deltas(output) for call in delta.get("tool_calls", [])]
    assert fragments == [
        {"index": 0, "id": "call_weather_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city'}},
        {"index": 0, "function": {"arguments": '": "Par'}},
        {"index": 0, "function": {"arguments": 'is"}'}},
        {"index": 1, "id": "call_time_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":'}},
        {"index": 1, "function": {"arguments": ' "CET"}'}},
    ]


def test_tool_fragment_without_function_gets_empty_arguments() -> None:
    first = {"index": 0, "id": "call_1", "function": {"name": "f"}}
    later = {"index": 0, "id": "call_1"}
    stream = event(chunk(choice({"tool_calls": [first]}))) + event(chunk(choice({"tool_calls": [later]}))) + DONE
    _, output = normalise(stream)
    calls = [delta["tool_calls"][0] for delta in deltas(output)]
    assert calls == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": ""}},
    ]


@pytest.mark.parametrize("shape", USAGE_SHAPES)
@pytest.mark.parametrize("stream", [text_stream, tool_call_stream])
def test_usage_is_always_recorded_but_only_sent_when_asked(shape: str, stream: Any) -> None:
    quiet, quiet_output = normalise(stream(shape), include_usage=False)
    assert quiet.usage == USAGE
    assert b'"usage"' not in quiet_output
    assert read_events(quiet_output)[-1] == "[DONE]"

    loud, loud_output = normalise(stream(shape), include_usage=True)
    assert loud.usage == USAGE
    events = read_events(loud_output)
    assert events[-1] == "[DONE]"
    assert events[-2] == {
        "id": GENERATION_ID,
        "object": "chat.completion.chunk",
        "created": HEAD["created"],
        "model": HEAD["model"],
        "provider": HEAD["provider"],
        "choices": [],
        "usage": USAGE,
    }
    assert sum(1 for item in events if isinstance(item, dict) and "usage" in item) == 1
    # Apart from the usage chunk the two outputs are the same chunks.
    assert [item for item in events[:-2]] == read_events(quiet_output)[:-1]


@pytest.mark.parametrize("shape", USAGE_SHAPES)
def test_no_empty_usage_choice_reaches_the_client(shape: str) -> None:
    _, output = normalise(text_stream(shape), include_usage=True)
    chunks = [item for item in data_chunks(output) if item["choices"]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert [delta.get("content") for delta in deltas(output)][2:] == ["Hello", ", ", "world", ""]


def test_metering_state() -> None:
    normalizer, _ = normalise(text_stream("merged"), include_usage=False)
    assert normalizer.generation_id == GENERATION_ID
    assert normalizer.model == "z-ai/glm-4.5"
    assert normalizer.provider == "DeepInfra"
    assert normalizer.finish_reasons == {0: "stop"}
    assert normalizer.done is True
    assert normalizer.truncated is False
    assert normalizer.error is None
    assert normalizer.completion_chars == len("Let me think") + len("Hello, world")
    assert normalizer.events_out == 7  # 2 reasoning + 3 content + finish + [DONE]


def test_completion_chars_counts_tool_arguments() -> None:
    normalizer, _ = normalise(tool_call_stream())
    assert normalizer.completion_chars == len('{"city": "Paris"}') + len('{"tz": "CET"}')
    assert normalizer.finish_reasons == {0: "tool_calls"}


def test_conforming_chunks_pass_byte_identical() -> None:
    # OpenAI's own shape, spaced and ordered unlike orjson's output: re-serialising would show.
    first = b'{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", ' \
            b'"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}'
    middle = b'{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", ' \
             b'"choices": [{"index": 0, "delta": {"content": "caf\\u00e9"}, "finish_reason": null}]}'
    last = b'{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", ' \
           b'"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}'
    stream = b"".join(b"data: " + payload + b"\n\n" for payload in (first, middle, last)) + DONE
    normalizer, output = normalise(stream)
    assert output == stream
    assert normalizer.completion_chars == len("café")


def test_changed_chunks_keep_their_other_fields_and_order() -> None:
    original = chunk(choice({"content": "x"}), system_fingerprint="fp_1")
    normalizer = ChatStreamNormalizer(include_usage=False)
    normalizer.feed(event(chunk(choice({"content": "first"}))))
    output = normalizer.feed(event(original))
    expected = orjson.loads(orjson.dumps(original))
    del expected["choices"][0]["delta"]["role"]
    assert output == b"data: " + orjson.dumps(expected) + b"\n\n"


def test_output_leaves_as_soon_as_a_chunk_is_complete() -> None:
    normalizer = ChatStreamNormalizer(include_usage=False)
    assert normalizer.feed(PROCESSING[:-1]) == PROCESSING
    first = event(chunk(choice({"content": "Hi"})))
    assert normalizer.feed(first[:-1]) == b""
    assert deltas(normalizer.feed(first[-1:])) == [{"role": "assistant", "content": "Hi"}]
    second = event(chunk(choice({"content": " there"})))
    assert deltas(normalizer.feed(second)) == [{"content": " there"}]


def test_duplicate_done_is_forwarded_once() -> None:
    stream = event(chunk(choice({"content": "Hi"}))) + DONE + DONE
    normalizer, output = normalise(stream)
    assert output.count(b"[DONE]") == 1
    assert output.endswith(DONE)
    assert normalizer.feed(DONE + event(chunk(choice({"content": "late"})))) == b""


def test_done_without_trailing_blank_line_at_eof() -> None:
    normalizer = ChatStreamNormalizer(include_usage=True)
    output = normalizer.feed(event(chunk(choice({"content": "Hi"}), usage=USAGE)) + b"data: [DONE]")
    assert b"[DONE]" not in output
    tail = normalizer.finish()
    assert read_events(tail) == [read_events(tail)[0], "[DONE]"]
    assert read_events(tail)[0]["usage"] == USAGE
    assert normalizer.error is None


def test_choice_index_and_response_id_rewrite_every_chunk() -> None:
    normalizer, output = normalise(
        tool_call_stream("merged"), choice_index=2, response_id="chatcmpl-shared", emit_terminal=False
    )
    chunks = data_chunks(output)
    assert chunks
    assert {item["id"] for item in chunks} == {"chatcmpl-shared"}
    assert {item["choices"][0]["index"] for item in chunks} == {2}
    assert b"[DONE]" not in output and b'"usage"' not in output
    assert normalizer.finish_reasons == {2: "tool_calls"}
    assert normalizer.generation_id == GENERATION_ID  # the upstream id stays for /generation lookups
    assert normalizer.usage == USAGE
    assert normalizer.render_usage(USAGE).startswith(b'data: {"id":"chatcmpl-shared",')


def test_emit_terminal_false_sends_neither_usage_nor_done() -> None:
    normalizer, output = normalise(text_stream(), include_usage=True, emit_terminal=False)
    assert b"[DONE]" not in output and b'"usage"' not in output
    assert normalizer.done is True
    assert normalizer.usage == USAGE


def test_empty_data_event_is_dropped() -> None:
    _, output = normalise(b"data:\n\n" + event(chunk(choice({"content": "Hi"}))) + DONE)
    assert [delta["content"] for delta in deltas(output)] == ["Hi"]
