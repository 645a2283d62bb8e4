"""Each API adapter on its own: what it refuses, what the call record sees, how it reads an answer and a stream."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from gateway.apis.adapter import ApiAdapter
from gateway.apis.chat import ChatCompletionsApi
from gateway.apis.embeddings import EmbeddingsApi
from gateway.apis.responses import ResponsesApi
from gateway.catalogue import ModelPrice
from gateway.errors import InvalidRequestError, UpstreamAccountError, UpstreamClientError, UpstreamError
from gateway.estimate import CostEstimate
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streaming.responses import ResponsesStreamTracker

ESTIMATE = CostEstimate(prompt_tokens=8, completion_tokens=0, price=ModelPrice(1e-7, 0.0))
CHAT = ChatCompletionsApi(max_n=4)
RESPONSES = ResponsesApi()
EMBEDDINGS = EmbeddingsApi()
ADAPTERS: list[ApiAdapter] = [CHAT, RESPONSES, EMBEDDINGS]


def _response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(payload), headers=headers or {})


@pytest.mark.parametrize("api", ADAPTERS, ids=lambda api: api.endpoint)
def test_every_adapter_names_its_endpoint_and_upstream_path(api: ApiAdapter) -> None:
    assert api.upstream_path.startswith("/") and api.endpoint
    assert api.cacheable is (api is CHAT)


@pytest.mark.parametrize("role", [{}, [], 3, None, True, "robot"])
def test_chat_refuses_any_role_shape_with_a_400(role: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CHAT.validate({"model": "m", "messages": [{"role": role, "content": "hi"}]})
    assert caught.value.param == "messages[0].role"


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [0, -1, True, False, 1.5, "16", [], {}])
def test_chat_output_limits_must_be_positive_integers(key: str, value: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CHAT.validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], key: value})
    assert caught.value.param == key and caught.value.status == 400


@pytest.mark.parametrize("value", [0, -3, True, "5", 2.0])
def test_responses_max_output_tokens_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        RESPONSES.validate({"model": "m", "input": "hi", "max_output_tokens": value})
    assert caught.value.param == "max_output_tokens"


def test_unknown_fields_and_valid_limits_pass() -> None:
    CHAT.validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "x-new": {}})
    RESPONSES.validate({"model": "m", "input": "hi", "max_output_tokens": 16, "anything": [1]})
    EMBEDDINGS.validate({"model": "m", "input": ["a", "b"], "dimensions": 8})


def test_what_the_call_record_sees() -> None:
    body = {"model": "m", "input": "hello", "max_output_tokens": 9, "stream": True}
    view = RESPONSES.record_view(body)
    assert (view["messages"], view["max_tokens"], view["stream"]) == ("hello", 9, True)
    assert EMBEDDINGS.record_view({"model": "e", "input": ["x"]}) == {"messages": ["x"], "model": "e",
                                                                      "dimensions": None}
    # The record's n (upstream calls, each reserved) and stream (SSE or JSON) drive the pipeline.
    assert CHAT.record_view({"n": 3})["n"] == 3
    assert RESPONSES.record_view({"input": "x", "n": 3})["n"] == 1
    assert "n" not in EMBEDDINGS.record_view({"model": "e", "input": "x", "stream": True, "n": 2})
    assert "stream" not in EMBEDDINGS.record_view({"model": "e", "input": "x", "stream": True})


def test_chat_reads_usage_and_who_answered() -> None:
    answer = CHAT.read_answer(_response({"id": "gen-1", "model": "a/b", "provider": "P", "choices": [{"index": 0}],
                                         "usage": {"prompt_tokens": 3, "cost": 0.1}}), ESTIMATE)
    assert answer.usage == {"prompt_tokens": 3, "cost": 0.1}
    assert (answer.served.model, answer.served.provider, answer.served.generation_id) == ("a/b", "P", "gen-1")


def test_chat_merges_n_answers_into_one_body() -> None:
    one = CHAT.read_answer(_response({"choices": [{"index": 0, "message": {"content": "a"}}],
                                      "usage": {"prompt_tokens": 1, "completion_tokens": 2, "cost": 0.5}}), ESTIMATE)
    merged = orjson.loads(CHAT.merge([one, one]))
    assert [choice["index"] for choice in merged["choices"]] == [0, 1]
    assert merged["usage"]["cost"] == 1.0
    assert CHAT.merge([one]) is one.body  # n = 1 goes out as the exact upstream bytes


@pytest.mark.parametrize("api", ADAPTERS, ids=lambda api: api.endpoint)
def test_an_error_inside_a_200_is_raised_as_what_it_is(api: ApiAdapter) -> None:
    with pytest.raises(UpstreamError):
        api.read_answer(_response({"error": {"code": 502, "message": "Provider down"}}), ESTIMATE)
    with pytest.raises(UpstreamAccountError):
        api.read_answer(_response({"error": {"code": 401, "message": "User not found."}}, 401), ESTIMATE)


def test_a_402_priced_on_max_tokens_is_the_clients_400() -> None:
    message = ("This request requires more credits, or fewer max_tokens. You requested up to 4096 tokens, "
               "but can only afford 100. To increase, visit https://openrouter.ai/settings/credits")
    with pytest.raises(UpstreamClientError) as caught:
        CHAT.read_answer(_response({"error": {"code": 402, "message": message}}, 402), ESTIMATE)
    assert (caught.value.status, caught.value.type, caught.value.param) == (400, "invalid_request_error", "max_tokens")
    assert not caught.value.retryable


def test_a_failed_response_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError) as caught:
        RESPONSES.read_answer(_response({"status": "failed", "output": [{}], "error": {"code": "server_error"}}),
                              ESTIMATE)
    assert caught.value.code == "server_error"


def test_responses_usage_is_read_in_the_chat_shape() -> None:
    answer = RESPONSES.read_answer(_response({"id": "gen-r", "model": "a/b", "status": "completed", "output": [{}],
                                              "usage": {"input_tokens": 5, "output_tokens": 7, "cost": 0.2}}),
                                   ESTIMATE)
    assert answer.usage is not None
    assert (answer.usage["prompt_tokens"], answer.usage["completion_tokens"], answer.usage["cost"]) == (5, 7, 0.2)
    assert answer.served.generation_id == "gen-r"


def test_embeddings_without_a_cost_are_priced_and_told_to_the_client() -> None:
    answer = EMBEDDINGS.read_answer(_response({"model": "e", "data": [], "usage": {"prompt_tokens": 10}},
                                              headers={"x-generation-id": "gen-e"}), ESTIMATE)
    assert answer.usage is not None and answer.usage["cost"] == pytest.approx(1e-6)
    assert orjson.loads(answer.body)["usage"]["cost"] == pytest.approx(1e-6)
    assert answer.served.generation_id == "gen-e"


def test_stream_trackers_per_api() -> None:
    [single] = CHAT.trackers({"stream_options": {"include_usage": True}}, 1)
    assert isinstance(single, ChatStreamNormalizer)
    fanned = CHAT.trackers({}, 3)
    assert len(fanned) == 3 and len({id(t) for t in fanned}) == 3
    [tracker] = RESPONSES.trackers({}, 1)
    assert isinstance(tracker, ResponsesStreamTracker)
    with pytest.raises(InvalidRequestError):
        EMBEDDINGS.trackers({}, 1)


def test_chat_answer_names_its_fingerprint_and_each_choices_outcome() -> None:
    payload = {"model": "a/b-2024", "system_fingerprint": "fp_1", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"content": "yes"}},
        {"index": 1, "finish_reason": "length", "message": {"content": "no"}}]}
    answer = CHAT.read_answer(_response(payload), ESTIMATE, capture_output=True)
    assert answer.served.system_fingerprint == "fp_1"
    assert [(o.finish_reason, o.text) for o in answer.outputs] == [("stop", "yes"), ("length", "no")]
    assert [o.text for o in CHAT.read_answer(_response(payload), ESTIMATE).outputs] == [None, None]


def test_stream_trackers_keep_text_only_when_capturing() -> None:
    chunks = (b'data: {"id":"g","model":"a/b","system_fingerprint":"fp_2","choices":[{"index":0,"delta":'
              b'{"content":"Hel"}}]}\n\ndata: {"id":"g","choices":[{"index":0,"delta":{"content":"lo"},'
              b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    captured = ChatStreamNormalizer(include_usage=False, capture_output=True)
    captured.feed(chunks)
    assert (captured.choice_output().finish_reason, captured.choice_output().text) == ("stop", "Hello")
    assert captured.system_fingerprint == "fp_2"
    plain = ChatStreamNormalizer(include_usage=False)
    plain.feed(chunks)
    assert plain.choice_output().text is None and plain.completion_chars == 5
    events = (b'data: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
              b'data: {"type":"response.completed","response":{"status":"completed","usage":{}}}\n\n')
    responses = ResponsesStreamTracker(capture_output=True)
    responses.feed(events)
    assert (responses.choice_output().finish_reason, responses.choice_output().text) == ("completed", "Hi")
