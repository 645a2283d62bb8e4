"""Every chunk we write validates against OpenAI's `CreateChatCompletionStreamResponse`."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.openapi_schema import ValidationError, validate
from tests.streaming.upstream import (
    UNIFIED_ERROR,
    USAGE_SHAPES,
    choice,
    chunk,
    data_chunks,
    event,
    read_events,
    text_stream,
    tool_call_fragments,
    tool_call_stream,
)

CHUNK_SCHEMA = "CreateChatCompletionStreamResponse"


def normalised(stream: bytes, **options: Any) -> bytes:
    normalizer = ChatStreamNormalizer(**options)
    return normalizer.feed(stream) + normalizer.finish()


@pytest.mark.parametrize("shape", USAGE_SHAPES)
@pytest.mark.parametrize("stream", [text_stream, tool_call_stream])
def test_normalised_chunks_match_openai_schema(shape: str, stream: Any) -> None:
    chunks = data_chunks(normalised(stream(shape), include_usage=True))
    assert len(chunks) >= 5
    for item in chunks:
        validate(CHUNK_SCHEMA, item)


def test_merged_fan_out_chunks_match_openai_schema() -> None:
    normalizers = [
        ChatStreamNormalizer(include_usage=False, choice_index=i, response_id="chatcmpl-x", emit_terminal=False)
        for i in range(2)
    ]
    output = normalizers[0].feed(text_stream()) + normalizers[1].feed(tool_call_stream())
    output += StreamMerger(include_usage=True).finish(normalizers)
    for item in data_chunks(output):
        validate(CHUNK_SCHEMA, item)


def test_error_event_matches_openai_error_response() -> None:
    events = read_events(normalised(tool_call_fragments() + event(UNIFIED_ERROR), include_usage=True))
    validate("ErrorResponse", events[-1])
    truncated = read_events(normalised(tool_call_fragments(), include_usage=True))
    validate("ErrorResponse", truncated[-1])


def test_the_schema_check_rejects_what_openrouter_sends_raw() -> None:
    # The raw error chunk has finish_reason "error", which OpenAI's enum does not allow: proof
    # the validator is live and that passing chunks through untouched would not be enough.
    with pytest.raises(ValidationError):
        validate(CHUNK_SCHEMA, UNIFIED_ERROR)
    with pytest.raises(ValidationError):
        validate(CHUNK_SCHEMA, chunk(choice({"content": 5})))
    with pytest.raises(ValidationError):
        validate("ErrorResponse", {"error": {"message": "x", "code": 502}})
