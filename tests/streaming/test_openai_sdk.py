"""The real openai SDK (and LangChain) consume what the normaliser writes, over a real socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.servers import serve
from tests.streaming.upstream import (
    UNIFIED_ERROR,
    USAGE,
    choice,
    chunk,
    ending,
    event,
    text_stream,
    tool_call_fragments,
    tool_call_stream,
)

TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
    for name in ("get_weather", "get_time")
]
MESSAGES = [{"role": "user", "content": "hi"}]


@dataclass
class Replay:
    """The bytes the next request gets, sent one SSE event per write like a live stream."""

    body: bytes = b""
    base_url: str = ""
    requests: list[dict[str, object]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> StreamingResponse:
        self.requests.append(json.loads(await request.body()))
        return StreamingResponse(self._events(), media_type="text/event-stream")

    async def _events(self) -> AsyncIterator[bytes]:
        for block in self.body.split(b"\n\n")[:-1]:
            yield block + b"\n\n"


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    state = Replay()
    app = Starlette(routes=[Route("/v1/chat/completions", state.endpoint, methods=["POST"])])
    with serve(app) as server:
        state.base_url = f"{server.url}/v1"
        yield state


@pytest.fixture
def client(replay: Replay) -> openai.OpenAI:
    return openai.OpenAI(base_url=replay.base_url, api_key="x", max_retries=0)


def normalised(stream: bytes, include_usage: bool = True) -> bytes:
    normalizer = ChatStreamNormalizer(include_usage=include_usage)
    return normalizer.feed(stream) + normalizer.finish()


def test_sdk_accumulates_content_and_usage(replay: Replay, client: openai.OpenAI) -> None:
    replay.body = normalised(text_stream("empty_delta"))
    with client.chat.completions.stream(
        model="z-ai/glm-4.5", messages=MESSAGES, stream_options={"include_usage": True}  # type: ignore[arg-type]
    ) as stream:
        deltas = [item.delta for item in stream if item.type == "content.delta" and item.delta]
        final = stream.get_final_completion()
    assert deltas == ["Hello", ", ", "world"]
    message = final.choices[0].message
    assert message.content == "Hello, world"
    assert message.role == "assistant"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens == USAGE["total_tokens"]
    assert final.id == "gen-1767000000-Ab3dEf6hIj9kLm2nOp4q"
    assert replay.requests[-1]["stream_options"] == {"include_usage": True}


def test_sdk_garbles_the_raw_openrouter_stream(replay: Replay, client: openai.OpenAI) -> None:
    # Control: without normalising, the repeated role is concatenated by the SDK's accumulator.
    replay.body = tool_call_stream("empty_delta")
    with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.role != "assistant"
    calls = final.choices[0].message.tool_calls or []
    assert calls[0].function.name != "get_weather"


def test_sdk_accumulates_parallel_tool_calls(replay: Replay, client: openai.OpenAI) -> None:
    replay.body = normalised(tool_call_stream("merged"), include_usage=False)
    with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
        done_events = [item for item in stream if item.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant"
    calls = message.tool_calls or []
    assert [(call.id, call.type, call.function.name) for call in calls] == [
        ("call_weather_1", "function", "get_weather"),
        ("call_time_2", "function", "get_time"),
    ]
    assert [json.loads(call.function.arguments) for call in calls] == [{"city": "Paris"}, {"tz": "CET"}]
    assert [item.name for item in done_events] == ["get_weather", "get_time"]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is None


def test_sdk_raises_api_error_on_mid_stream_error(replay: Replay, client: openai.OpenAI) -> None:
    replay.body = normalised(tool_call_fragments() + event(UNIFIED_ERROR))
    with pytest.raises(openai.APIError) as caught:  # noqa: SIM117
        with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
            stream.get_final_completion()
    assert caught.value.message == "Provider disconnected"
    assert caught.value.code == "provider_unavailable"
    assert caught.value.type == "api_error"


def test_sdk_raises_api_error_on_truncation(replay: Replay, client: openai.OpenAI) -> None:
    replay.body = normalised(text_stream()[:-60])
    with pytest.raises(openai.APIError) as caught:  # noqa: SIM117
        with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:  # type: ignore[arg-type]
            stream.get_final_completion()
    assert caught.value.code == "upstream_stream_truncated"


def test_sdk_reads_a_merged_fan_out(replay: Replay, client: openai.OpenAI) -> None:
    normalizers = [
        ChatStreamNormalizer(include_usage=False, choice_index=i, response_id="chatcmpl-gw", emit_terminal=False)
        for i in range(2)
    ]
    body = normalizers[0].feed(text_stream()) + normalizers[1].feed(text_stream(words=("Bon", "jour")))
    replay.body = body + StreamMerger(include_usage=True).finish(normalizers)
    with client.chat.completions.stream(
        model="m", messages=MESSAGES, n=2, stream_options={"include_usage": True}  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    assert final.id == "chatcmpl-gw"
    assert [choice.message.content for choice in final.choices] == ["Hello, world", "Bonjour"]
    assert [choice.message.role for choice in final.choices] == ["assistant", "assistant"]
    assert final.usage is not None and final.usage.total_tokens == 2 * USAGE["total_tokens"]


def test_langchain_accumulates_tool_calls(replay: Replay) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    replay.body = normalised(tool_call_stream("empty_choices"))
    model = langchain_openai.ChatOpenAI(model="m", base_url=replay.base_url, api_key="x", max_retries=0)
    merged = None
    for piece in model.bind_tools(TOOLS).stream("hi"):
        merged = piece if merged is None else merged + piece
    assert merged is not None
    assert [(call["id"], call["name"], call["args"]) for call in merged.tool_calls] == [
        ("call_weather_1", "get_weather", {"city": "Paris"}),
        ("call_time_2", "get_time", {"tz": "CET"}),
    ]


def _argumentless_stream(shape: str) -> bytes:
    """OpenRouter's shape for a tool whose parameters are all optional: no `arguments` on any fragment."""
    call = {"index": 0, "id": "call_list_1", "type": "function", "function": {"name": "get_time"}}
    return event(chunk(choice({"content": None, "tool_calls": [call]}))) + ending(shape, finish="tool_calls")


@pytest.mark.parametrize("shape", ["empty_choices", "merged"])
def test_sdk_reads_a_tool_call_without_arguments_as_empty_object(
    replay: Replay, client: openai.OpenAI, shape: str
) -> None:
    replay.body = normalised(_argumentless_stream(shape), include_usage=False)
    with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
        done_events = [item for item in stream if item.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(call.function.name, json.loads(call.function.arguments)) for call in calls] == [("get_time", {})]
    assert [item.arguments for item in done_events] == ["{}"]
    # Without the normaliser, the arguments accumulate to "" and json.loads fails.
    replay.body = _argumentless_stream(shape)
    raw = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    fragments = [c.choices[0].delta.tool_calls for c in raw if c.choices and c.choices[0].delta.tool_calls]
    assert all(call.function is None or not call.function.arguments for batch in fragments for call in batch)


def test_arguments_present_are_left_alone(replay: Replay, client: openai.OpenAI) -> None:
    replay.body = normalised(tool_call_stream("merged"), include_usage=False)
    with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert [call.function.arguments for call in final.choices[0].message.tool_calls or []] == [
        '{"city": "Paris"}', '{"tz": "CET"}'
    ]
