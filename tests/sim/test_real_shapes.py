"""Shapes OpenRouter really sends that strict clients trip on, produced on demand (issue 16)."""

from __future__ import annotations

from typing import Any

from tests.sim.conftest import Sim, sse_events, user

TOOLS = [{"type": "function", "function": {"name": "list_files", "description": "List files",
                                           "parameters": {"type": "object", "properties": {"glob": {}}}}}]


def _tool_request(**extra: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-4o-mini", "messages": user("List files in Documents"), "tools": TOOLS, **extra}


def test_tool_calls_without_arguments_in_json(sim: Sim) -> None:
    answer = sim.chat(_tool_request(sim={"tool_arguments": "omit"})).json()
    calls = answer["choices"][0]["message"]["tool_calls"]
    assert calls and all("arguments" not in call["function"] and call["function"]["name"] for call in calls)
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    normal = sim.chat(_tool_request()).json()["choices"][0]["message"]["tool_calls"]
    assert all(isinstance(call["function"]["arguments"], str) for call in normal)


def test_tool_calls_without_arguments_in_streams(sim: Sim) -> None:
    events = sse_events(sim.chat(_tool_request(stream=True, sim={"tool_arguments": "omit"})).content)
    fragments = [call for event in events if isinstance(event, dict) and event.get("choices")
                 for call in event["choices"][0]["delta"].get("tool_calls") or ()]
    assert fragments and all("arguments" not in fragment["function"] for fragment in fragments)
    assert events[-1] == "[DONE]"


def test_assistant_content_parts_with_an_untyped_image(sim: Sim) -> None:
    message = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Draw a cat"),
                        "sim": {"assistant_content": "untyped_image_parts"}}).json()["choices"][0]["message"]
    text, image = message["content"]
    assert text["type"] == "text" and text["text"]
    assert "type" not in image and image["image_url"]["url"].startswith("data:image/png;base64,")
    # Replayed as history, exactly as received, OpenRouter (and the simulator) serve it.
    history = [*user("Draw a cat"), {"role": "assistant", "content": message["content"]}, *user("Now a dog")]
    assert sim.chat({"model": "openai/gpt-4o-mini", "messages": history}).status_code == 200


def test_repeated_429s_then_success(sim: Sim) -> None:
    sim.client.post(f"{sim.base}/_sim/faults",
                    json={"model": "openai/gpt-4o-mini", "error": 429, "count": 3, "retry_after": 2}).raise_for_status()
    answers = [sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Hi")}) for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert all(a.headers["retry-after"] == "2" for a in answers[:3])


def test_both_402s(sim: Sim) -> None:
    exhausted = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Hi"), "sim": {"error": "credits_exhausted"}})
    assert exhausted.status_code == 402 and "Insufficient credits" in exhausted.json()["error"]["message"]
    too_large = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Hi"), "sim": {"error": 402}})
    assert too_large.status_code == 402
    assert "requires more credits, or fewer max_tokens" in too_large.json()["error"]["message"]


def test_unknown_shape_options_are_400s(sim: Sim) -> None:
    for options in ({"tool_arguments": "null"}, {"assistant_content": "html"}):
        bad = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Hi"), "sim": options})
        assert bad.status_code == 400 and "Invalid sim option" in bad.json()["error"]["message"]
