from __future__ import annotations

import pytest

from gateway.streaming.merge import StreamMerger, sum_usage
from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.streaming.upstream import (
    UNIFIED_ERROR,
    USAGE,
    choice,
    chunk,
    data_chunks,
    event,
    read_events,
    text_stream,
    tool_call_stream,
)

SHARED_ID = "chatcmpl-gw-123"


def fan_out(n: int) -> list[ChatStreamNormalizer]:
    return [
        ChatStreamNormalizer(include_usage=False, choice_index=i, response_id=SHARED_ID, emit_terminal=False)
        for i in range(n)
    ]


def test_sum_usage_adds_nested_details_and_cost() -> None:
    other = {
        "prompt_tokens": 9, "completion_tokens": 30, "total_tokens": 39, "cost": 0.00002, "is_byok": True,
        "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 1},
        "cost_details": {"upstream_inference_cost": 0.5, "upstream_inference_prompt_cost": 0.0000024,
                         "upstream_inference_completions_cost": 0.0000176},
        "completion_tokens_details": {"reasoning_tokens": 10, "image_tokens": 0},
    }
    total = sum_usage([USAGE, other])
    assert total["prompt_tokens"] == 18
    assert total["completion_tokens"] == 42
    assert total["total_tokens"] == 60
    assert total["cost"] == pytest.approx(0.0000271)
    assert total["is_byok"] is True
    assert total["prompt_tokens_details"] == {"cached_tokens": 4, "audio_tokens": 1}
    assert total["completion_tokens_details"] == {"reasoning_tokens": 14, "image_tokens": 0}
    assert total["cost_details"]["upstream_inference_cost"] == 0.5
    assert total["cost_details"]["upstream_inference_prompt_cost"] == pytest.approx(0.0000048)
    assert total["cost_details"]["upstream_inference_completions_cost"] == pytest.approx(0.0000223)
    assert USAGE["prompt_tokens_details"] == {"cached_tokens": 0}  # inputs untouched


def test_sum_usage_of_one_is_a_copy_and_null_stays_null() -> None:
    total = sum_usage([USAGE, USAGE])
    assert total["cost_details"]["upstream_inference_cost"] is None
    assert total["is_byok"] is False
    assert sum_usage([USAGE]) == USAGE
    assert sum_usage([USAGE]) is not USAGE


@pytest.mark.parametrize("include_usage", [True, False])
def test_merged_stream_has_one_usage_chunk_and_one_done(include_usage: bool) -> None:
    normalizers = fan_out(3)
    streams = [text_stream("empty_choices"), tool_call_stream("merged"), text_stream("empty_delta")]
    output = b"".join(normalizer.feed(stream) for normalizer, stream in zip(normalizers, streams, strict=True))
    merger = StreamMerger(include_usage=include_usage)
    output += merger.finish(normalizers)
    events = read_events(output)
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    usage_chunks = [item for item in events if isinstance(item, dict) and "usage" in item]
    assert merger.usage is not None
    assert merger.usage["total_tokens"] == 3 * USAGE["total_tokens"]
    assert merger.usage["completion_tokens_details"]["reasoning_tokens"] == 12
    if include_usage:
        assert usage_chunks == [events[-2]]
        assert events[-2]["usage"] == merger.usage
        assert events[-2]["id"] == SHARED_ID and events[-2]["choices"] == []
    else:
        assert usage_chunks == []
    chunks = [item for item in data_chunks(output) if item["choices"]]
    assert {item["id"] for item in chunks} == {SHARED_ID}
    assert {item["choices"][0]["index"] for item in chunks} == {0, 1, 2}
    assert merger.finish(normalizers) == b""


def test_an_errored_stream_ends_the_merge_without_done() -> None:
    normalizers = fan_out(2)
    normalizers[0].feed(text_stream())
    error_out = normalizers[1].feed(event(chunk(choice({"content": "Hi"}))) + event(UNIFIED_ERROR))
    assert read_events(error_out)[-1]["error"]["code"] == "provider_unavailable"
    merger = StreamMerger(include_usage=True)
    assert merger.finish(normalizers) == b""
    assert merger.error is not None and merger.error["code"] == "provider_unavailable"
    assert merger.usage == USAGE  # the finished stream's usage is still accounted


def test_a_truncated_stream_gives_one_truncation_error() -> None:
    normalizers = fan_out(3)
    normalizers[0].feed(text_stream())
    normalizers[1].feed(event(chunk(choice({"content": "cut"}))))
    normalizers[2].feed(event(chunk(choice({"content": "cut too"}))))
    merger = StreamMerger(include_usage=True)
    events = read_events(merger.finish(normalizers))
    assert events == [{"error": {"message": "Upstream closed the stream before it finished", "type": "api_error",
                                 "param": None, "code": "upstream_stream_truncated"}}]
    assert merger.error == events[0]["error"]


def test_merger_flushes_an_unterminated_done() -> None:
    normalizers = fan_out(2)
    normalizers[0].feed(text_stream())
    normalizers[1].feed(text_stream().removesuffix(b"\n\n"))
    assert normalizers[1].done is False
    events = read_events(StreamMerger(include_usage=False).finish(normalizers))
    assert events == ["[DONE]"]
    assert normalizers[1].done is True
