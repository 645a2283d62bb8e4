"""OpenRouter's real wire through the gateway: shapes strict clients trip on arrive the way OpenAI sends them."""

from __future__ import annotations

import json

import openai

TOOLS = [{"type": "function", "function": {"name": "list_files", "description": "List files",
                                           "parameters": {"type": "object", "properties": {"glob": {}}}}}]


def test_streamed_tool_call_without_arguments_reaches_the_sdk_as_empty_object(gateway_url: str, token: str) -> None:
    sdk = openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)
    with sdk.chat.completions.stream(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "List files in Documents"}],
        tools=TOOLS, extra_body={"sim": {"tool_arguments": "omit"}},  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert calls and all(json.loads(call.function.arguments) == {} for call in calls)
    assert final.choices[0].finish_reason == "tool_calls"
