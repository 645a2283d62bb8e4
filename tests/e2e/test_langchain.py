"""langchain-openai's ChatOpenAI works through the gateway, plain and streamed."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI


def test_langchain_invoke_and_stream(gateway_url: str, token: str) -> None:
    chat = ChatOpenAI(model="openai/gpt-4o-mini", base_url=gateway_url, api_key=token, max_retries=0)
    question = [HumanMessage("Name a colour")]
    answer = chat.invoke(question)
    assert isinstance(answer.content, str) and answer.content
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] > 0

    streaming = ChatOpenAI(
        model="openai/gpt-4o-mini", base_url=gateway_url, api_key=token, max_retries=0, stream_usage=True
    )
    merged: AIMessageChunk | None = None
    for chunk in streaming.stream(question):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.content == answer.content
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["total_tokens"] == answer.usage_metadata["total_tokens"]


def test_langchain_tool_calls(gateway_url: str, token: str) -> None:
    def get_weather(location: str) -> str:
        """Current weather for a city."""
        return f"{location}: sunny"

    chat = ChatOpenAI(model="openai/gpt-4o", base_url=gateway_url, api_key=token, max_retries=0)
    answer = chat.bind_tools([get_weather]).invoke("What's the weather in Paris and London?")
    assert sorted(call["args"]["location"] for call in answer.tool_calls) == ["London", "Paris"]
