"""The official openai SDK, pointed at the gateway, behaves as it does against OpenAI."""

from __future__ import annotations

import base64
import json

import openai
import pytest

from tests.e2e.conftest import Sim

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
TINY_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@pytest.fixture
def sdk(gateway_url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)


def test_sync_completion(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "openai/gpt-4o-mini"
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_async_completion(gateway_url: str, token: str) -> None:
    async with openai.AsyncOpenAI(base_url=gateway_url, api_key=token, max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="anthropic/claude-sonnet-4.5", messages=[{"role": "user", "content": "Hello"}]
        )
        assert completion.choices[0].message.content
        stream = await client.chat.completions.create(
            model="anthropic/claude-sonnet-4.5", messages=[{"role": "user", "content": "Hello"}], stream=True
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        assert text == completion.choices[0].message.content


def test_stream_helper_accumulates(sdk: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Tell me about streaming"}]
    plain = sdk.chat.completions.create(model="openai/gpt-4o", messages=messages)
    with sdk.chat.completions.stream(
        model="openai/gpt-4o", messages=messages, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == plain.choices[0].message.content
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == plain.usage.completion_tokens


def test_parallel_tool_calls_round_trip(sdk: openai.OpenAI) -> None:
    messages: list[dict] = [{"role": "user", "content": "What's the weather in Paris and London?"}]
    first = sdk.chat.completions.create(model="openai/gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert calls is not None and len(calls) == 2
    locations = sorted(json.loads(call.function.arguments)["location"] for call in calls)
    assert locations == ["London", "Paris"]

    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    for call in calls:
        city = json.loads(call.function.arguments)["location"]
        messages.append({"role": "tool", "tool_call_id": call.id, "content": f"{city}: 18C and sunny"})
    answer = sdk.chat.completions.create(model="openai/gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].finish_reason == "stop"
    assert "18C" in (answer.choices[0].message.content or "")


def test_streamed_parallel_tool_calls_accumulate(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "What's the weather in Paris and London?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 2
    assert len({call.id for call in calls}) == 2
    assert sorted(json.loads(c.function.arguments)["location"] for c in calls) == ["London", "Paris"]


def test_n2_json_and_stream(sdk: openai.OpenAI, sim: Sim) -> None:
    messages = [{"role": "user", "content": "Give me a name"}]
    completion = sdk.chat.completions.create(model="openai/gpt-4o-mini", messages=messages, n=2)
    assert [choice.index for choice in completion.choices] == [0, 1]
    single = sdk.chat.completions.create(model="openai/gpt-4o-mini", messages=messages)
    assert completion.usage.total_tokens == 2 * single.usage.total_tokens

    stream = sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=messages, n=2, stream=True, stream_options={"include_usage": True}
    )
    texts = {0: "", 1: ""}
    finishes: dict[int, str] = {}
    usage_chunks = 0
    for chunk in stream:
        if chunk.usage is not None:
            usage_chunks += 1
            assert chunk.usage.total_tokens == 2 * single.usage.total_tokens
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert texts[0] == texts[1] == single.choices[0].message.content
    assert finishes == {0: "stop", 1: "stop"}
    assert usage_chunks == 1
    # 1 + 1 calls for the JSON pair above, 2 more for the stream
    assert sim.stats()["requests_total"] == 5


def test_image_input_and_output(sdk: openai.OpenAI) -> None:
    seen = sdk.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{TINY_PNG}"}},
        ]}],
    )
    assert "image" in (seen.choices[0].message.content or "").lower()

    drawn = sdk.chat.completions.create(
        model="google/gemini-2.5-flash-image",
        messages=[{"role": "user", "content": "Draw a red square"}],
        extra_body={"modalities": ["image", "text"]},
    )
    images = drawn.choices[0].message.model_extra["images"]
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert drawn.to_dict()["usage"]["completion_tokens_details"]["image_tokens"] > 0


def test_with_raw_response_headers(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "Hi"}], extra_headers={"x-request-id": "req-abc.123"}
    )
    assert raw.headers["x-request-id"] == "req-abc.123"
    assert raw.headers["x-gateway-model-requested"] == "fast"
    assert raw.headers["x-gateway-model-routed"] == "openai/gpt-4o-mini"
    assert raw.headers["x-generation-id"].startswith("gen-")
    assert float(raw.headers["x-gateway-cost-usd"]) > 0
    completion = raw.parse()
    assert completion.model == "openai/gpt-4o-mini"


def test_errors_raise_the_right_sdk_exceptions(gateway_url: str, sdk: openai.OpenAI, sim: Sim) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway_url, api_key="not-a-jwt", max_retries=0).chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "Hi"}]
        )
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nobody/no-such-model", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="openai/gpt-4o", messages=[])
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "Hi"}],
            extra_body={"sim": {"error": 429, "retry_after": 7}},
        )
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.APIError):
        stream = sdk.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True,
            extra_body={"sim": {"error": "mid_stream", "error_after_tokens": 2}},
        )
        for _ in stream:
            pass
