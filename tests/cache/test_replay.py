"""A cached answer replayed as SSE: OpenAI's chunk schema, the cached content, and the real openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.cache import replay_chat_stream
from gateway.streaming.sse import SSEParser
from tests.cache.completions import HEAD, USAGE, text_completion, tool_completion, two_choice_completion
from tests.openapi_schema import validate
from tests.servers import serve

MESSAGES = [{"role": "user", "content": "hi"}]


def events(stream: bytes) -> list[bytes]:
    parser = SSEParser()
    parsed = parser.feed(stream) + parser.flush()
    assert all(event.kind == "data" for event in parsed)
    return [event.payload for event in parsed]


def chunks(stream: bytes) -> list[dict[str, Any]]:
    payloads = events(stream)
    assert payloads.count(b"[DONE]") == 1
    assert payloads[-1] == b"[DONE]"
    return [orjson.loads(payload) for payload in payloads[:-1]]


def content_of(parsed: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in parsed
        for choice in chunk["choices"]
        if choice["index"] == index
    )


@pytest.mark.parametrize("completion", [text_completion(), tool_completion(), two_choice_completion()])
@pytest.mark.parametrize("include_usage", [True, False])
def test_every_chunk_matches_openais_schema(completion: dict[str, Any], include_usage: bool) -> None:
    for chunk in chunks(replay_chat_stream(completion, include_usage=include_usage)):
        validate("CreateChatCompletionStreamResponse", chunk)
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"], chunk["provider"]) == (
            HEAD["id"], HEAD["created"], HEAD["model"], HEAD["provider"],
        )


def test_content_and_finish_reason_survive() -> None:
    parsed = chunks(replay_chat_stream(text_completion("Bonjour, le monde"), include_usage=False))
    assert content_of(parsed) == "Bonjour, le monde"
    assert parsed[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["finish_reason"] for c in parsed] == [None, "stop"]


def test_usage_chunk_only_when_asked() -> None:
    with_usage = chunks(replay_chat_stream(text_completion(), include_usage=True))
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"] == USAGE
    assert sum("usage" in chunk for chunk in with_usage) == 1
    without = chunks(replay_chat_stream(text_completion(), include_usage=False))
    assert not any("usage" in chunk for chunk in without)


def test_tool_calls_survive_with_index_id_name_and_arguments() -> None:
    parsed = chunks(replay_chat_stream(tool_completion(), include_usage=False))
    calls = parsed[0]["choices"][0]["delta"]["tool_calls"]
    weather = {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert calls == [
        {"index": 0, "id": "call_1", "type": "function", "function": weather},
        {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert parsed[1]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_and_other_message_fields_are_carried() -> None:
    details = [{"type": "reasoning.text", "text": "think"}]
    completion = text_completion("42", reasoning="think", reasoning_details=details, refusal=None)
    delta = chunks(replay_chat_stream(completion, include_usage=False))[0]["choices"][0]["delta"]
    assert delta["reasoning"] == "think"
    assert delta["reasoning_details"] == details
    assert "refusal" not in delta  # a null field is left out rather than sent as a value


def test_every_choice_is_replayed_with_its_own_index() -> None:
    parsed = chunks(replay_chat_stream(two_choice_completion(), include_usage=False))
    assert content_of(parsed, 0) == "first"
    assert content_of(parsed, 1) == "second"
    closing = [chunk["choices"][0] for chunk in parsed if chunk["choices"][0]["finish_reason"]]
    finishes = {choice["index"]: choice["finish_reason"] for choice in closing}
    assert finishes == {0: "stop", 1: "length"}


@dataclass
class Replayer:
    """Serves the replay of `completion` to whatever asks, as a streaming endpoint would."""

    completion: dict[str, Any]
    base_url: str = ""

    async def endpoint(self, request: Request) -> StreamingResponse:
        body = orjson.loads(await request.body())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        stream = replay_chat_stream(self.completion, include_usage=include_usage)
        frames = [block + b"\n\n" for block in stream.split(b"\n\n")[:-1]]

        async def one_event_per_write() -> Any:
            for frame in frames:
                yield frame

        return StreamingResponse(one_event_per_write(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def replayer() -> Iterator[Replayer]:
    state = Replayer(text_completion())
    app = Starlette(routes=[Route("/v1/chat/completions", state.endpoint, methods=["POST"])])
    with serve(app) as server:
        state.base_url = f"{server.url}/v1"
        yield state


def sdk(replayer: Replayer) -> openai.OpenAI:
    return openai.OpenAI(base_url=replayer.base_url, api_key="x", max_retries=0)


def test_openai_sdk_reads_the_cached_text(replayer: Replayer) -> None:
    replayer.completion = text_completion("Hello from the cache")
    with sdk(replayer).chat.completions.stream(
        model="z-ai/glm-4.5", messages=MESSAGES, stream_options={"include_usage": True}  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    assert final.id == HEAD["id"]
    assert final.choices[0].message.content == "Hello from the cache"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.total_tokens == USAGE["total_tokens"]


def test_openai_sdk_reads_the_cached_tool_calls(replayer: Replayer) -> None:
    replayer.completion = tool_completion()
    with sdk(replayer).chat.completions.stream(model="z-ai/glm-4.5", messages=MESSAGES) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("call_1", "get_weather", '{"city":"Oslo"}'),
        ("call_2", "get_time", "{}"),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is None  # not asked for


def test_openai_sdk_reads_every_choice(replayer: Replayer) -> None:
    # Both finish with `stop`: the SDK's helper refuses to return a completion cut by `length`.
    replayer.completion = two_choice_completion(second_finish="stop")
    with sdk(replayer).chat.completions.stream(model="z-ai/glm-4.5", messages=MESSAGES, n=2) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert [choice.message.content for choice in final.choices] == ["first", "second"]
