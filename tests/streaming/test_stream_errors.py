from __future__ import annotations

from typing import Any

import pytest

from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.streaming.upstream import (
    DONE,
    HEAD,
    LEGACY_ERROR,
    PROCESSING,
    UNIFIED_ERROR,
    USAGE,
    choice,
    chunk,
    event,
    read_events,
)

PARTIAL = PROCESSING + event(chunk(choice({"content": "Hel"}))) + event(chunk(choice({"content": "lo"})))
AFTER = event(chunk(choice({"content": "ignored"}))) + DONE


def run(stream: bytes, **options: Any) -> tuple[ChatStreamNormalizer, list[Any]]:
    options.setdefault("include_usage", True)
    normalizer = ChatStreamNormalizer(**options)
    output = normalizer.feed(stream)
    output += normalizer.finish()
    return normalizer, read_events(output)


def test_unified_mid_stream_error_becomes_one_final_openai_error() -> None:
    normalizer, events = run(PARTIAL + event(UNIFIED_ERROR) + AFTER)
    expected = {"message": "Provider disconnected", "type": "api_error", "param": None, "code": "provider_unavailable"}
    assert events[-1] == {"error": expected}
    assert [item for item in events if item == "[DONE]"] == []
    assert len([item for item in events if isinstance(item, dict) and "error" in item]) == 1
    assert [item["choices"][0]["delta"]["content"] for item in events[1:-1]] == ["Hel", "lo"]
    assert normalizer.error == expected
    assert normalizer.done is False and normalizer.truncated is False


def test_legacy_error_maps_status_to_type_and_hides_user_id() -> None:
    normalizer = ChatStreamNormalizer(include_usage=False)
    normalizer.feed(PARTIAL)
    output = normalizer.feed(event(LEGACY_ERROR))
    assert read_events(output) == [
        {"error": {"message": "Rate limit exceeded: free tier", "type": "rate_limit_error", "param": None,
                   "code": "upstream_error"}}
    ]
    assert b"user_" not in output
    assert normalizer.feed(AFTER) == b""
    assert normalizer.finish() == b""


def test_metadata_raw_never_leaks() -> None:
    _, events = run(event(UNIFIED_ERROR))
    assert "secret body" not in str(events)
    assert "ECONNRESET" not in str(events)


@pytest.mark.parametrize(
    ("code", "expected_type"),
    [
        (429, "rate_limit_error"),
        (400, "invalid_request_error"),
        (422, "invalid_request_error"),
        (403, "permission_error"),
        (500, "api_error"),
        ("server_error", "api_error"),
    ],
)
def test_error_type_follows_the_status(code: Any, expected_type: str) -> None:
    normalizer, events = run(event({"error": {"code": code, "message": "boom"}}))
    assert events[-1]["error"]["type"] == expected_type
    assert normalizer.error is not None and normalizer.error["type"] == expected_type
    expected_code = code if isinstance(code, str) else "upstream_error"
    assert events[-1]["error"]["code"] == expected_code


@pytest.mark.parametrize("code", [401, 402, "401"])
def test_an_in_stream_401_or_402_is_the_gateways_account_failure_not_the_clients(code: Any) -> None:
    normalizer, events = run(event({"error": {"code": code, "message": "User not found."}}))
    assert events[-1]["error"]["type"] == "api_error"
    assert events[-1]["error"]["code"] == "upstream_account_refused"
    assert "User not found" not in str(events)
    assert normalizer.error == events[-1]["error"]


def test_an_in_stream_402_priced_on_the_requests_size_is_the_clients_invalid_request() -> None:
    message = ("This request requires more credits, or fewer max_tokens. You requested up to 16384 tokens, "
               "but can only afford 3324. To increase, visit https://openrouter.ai/settings/credits")
    _, events = run(event({"error": {"code": 402, "message": message}}))
    assert events[-1]["error"]["type"] == "invalid_request_error"
    assert events[-1]["error"]["param"] == "max_tokens" and "3324" in events[-1]["error"]["message"]


def test_availability_form_without_code_uses_http_status_and_error_type() -> None:
    error = {"message": "No capacity", "error_type": "capacity_exhausted", "http_status": 429}
    _, events = run(event({"error": error}))
    assert events[-1]["error"] == {"message": "No capacity", "type": "rate_limit_error", "param": None,
                                   "code": "capacity_exhausted"}


def test_error_with_partial_usage_keeps_the_usage() -> None:
    normalizer, events = run(PARTIAL + event({**UNIFIED_ERROR, "usage": USAGE}))
    assert normalizer.usage == USAGE
    assert normalizer.error is not None
    assert "usage" not in str(events[-1])


def test_finish_reason_error_on_a_choice_is_an_error() -> None:
    errored = chunk({"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                     "error": {"code": 504, "message": "Timed out", "metadata": {"error_type": "timeout"}}})
    normalizer, events = run(PARTIAL + event(errored) + AFTER)
    assert events[-1] == {"error": {"message": "Timed out", "type": "api_error", "param": None, "code": "timeout"}}
    assert normalizer.error == events[-1]["error"]
    assert normalizer.finish_reasons == {}


def test_abrupt_eof_is_a_truncation_error_without_done() -> None:
    normalizer, events = run(PARTIAL)
    assert events[-1] == {"error": {"message": "Upstream closed the stream before it finished",
                                    "type": "api_error", "param": None, "code": "upstream_stream_truncated"}}
    assert "[DONE]" not in events
    assert normalizer.truncated is True
    assert normalizer.error is not None and normalizer.error["code"] == "upstream_stream_truncated"


def test_eof_in_the_middle_of_a_chunk_is_a_truncation() -> None:
    cut = event(chunk(choice({"content": "never complete"})))[:-30]
    normalizer, events = run(PARTIAL + cut)
    assert normalizer.truncated is True
    assert events[-1]["error"]["code"] == "upstream_stream_truncated"
    assert [item["choices"][0]["delta"]["content"] for item in events[1:-1]] == ["Hel", "lo"]


def test_abrupt_eof_after_usage_still_truncated() -> None:
    normalizer, events = run(PARTIAL + event(chunk(usage=USAGE)))
    assert normalizer.usage == USAGE
    assert events[-1]["error"]["code"] == "upstream_stream_truncated"
    assert not any(isinstance(item, dict) and "usage" in item for item in events)


def test_truncation_is_left_to_the_merger_without_terminal() -> None:
    normalizer, events = run(PARTIAL, emit_terminal=False)
    assert normalizer.truncated is True
    assert normalizer.error is None
    assert all("error" not in item for item in events if isinstance(item, dict))


def test_errors_still_go_out_without_terminal() -> None:
    normalizer, events = run(PARTIAL + event(UNIFIED_ERROR), emit_terminal=False)
    assert events[-1]["error"]["code"] == "provider_unavailable"
    assert normalizer.error is not None and normalizer.truncated is False


def test_abort_emits_one_error_and_closes() -> None:
    normalizer = ChatStreamNormalizer(include_usage=True)
    normalizer.feed(PARTIAL)
    output = normalizer.abort("Upstream went quiet for 60 s", code="upstream_idle_timeout")
    assert read_events(output) == [{"error": {"message": "Upstream went quiet for 60 s", "type": "api_error",
                                              "param": None, "code": "upstream_idle_timeout"}}]
    assert normalizer.abort("again") == b""
    assert normalizer.feed(AFTER) == b""
    assert normalizer.finish() == b""
    assert normalizer.error is not None and normalizer.error["code"] == "upstream_idle_timeout"


def test_abort_after_done_sends_nothing() -> None:
    normalizer = ChatStreamNormalizer(include_usage=False)
    normalizer.feed(PARTIAL + DONE)
    assert normalizer.abort("late") == b""
    assert normalizer.error is None


def test_unparseable_chunk_is_an_upstream_error() -> None:
    normalizer, events = run(PARTIAL + b"data: {not json\n\n" + AFTER)
    assert events[-1]["error"]["code"] == "upstream_invalid_chunk"
    assert normalizer.error is not None


def test_error_chunk_identity_is_recorded() -> None:
    normalizer, _ = run(event(UNIFIED_ERROR))
    assert normalizer.generation_id == HEAD["id"]
    assert normalizer.provider == "DeepInfra"
