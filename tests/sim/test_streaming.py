"""Raw SSE bytes: comments, chunk envelope, role on every delta, finish and usage chunks, [DONE]."""

from __future__ import annotations

import time

import pytest

from tests.sim.conftest import Sim, sse_events, user

PROCESSING = b": OPENROUTER PROCESSING\n\n"


def _stream(server: Sim, options: dict[str, object] | None = None) -> bytes:
    body = {"model": "openai/gpt-4o-mini", "messages": user("Stream about Kyoto temples"), "stream": True,
            "sim": options or {}}
    response = server.chat(body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.content


def test_raw_frames_and_envelope(sim: Sim) -> None:
    raw = _stream(sim, {"processing_comments": 3})
    assert raw.startswith(PROCESSING * 3 + b"data: {")
    assert raw.endswith(b"data: [DONE]\n\n")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1
    for chunk in chunks:
        assert list(chunk)[:5] == ["id", "provider", "model", "object", "created"]
        assert chunk["object"] == "chat.completion.chunk" and chunk["provider"] == "OpenAI"
        for choice in chunk["choices"]:
            assert choice["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert "Kyoto" in content


@pytest.mark.parametrize("shape", ["empty_choices", "empty_delta", "merged"])
def test_usage_chunk_shapes(sim: Sim, shape: str) -> None:
    events = sse_events(_stream(sim, {"usage_chunk": shape}))
    with_usage = [e for e in events[:-1] if "usage" in e]
    assert len(with_usage) == 1
    usage_chunk = with_usage[0]
    finish = [e for e in events[:-1] if e["choices"] and e["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    assert finish[0]["choices"][0]["native_finish_reason"] == "stop"
    if shape == "empty_choices":
        assert usage_chunk["choices"] == [] and events[-2] is usage_chunk
    elif shape == "empty_delta":
        assert usage_chunk["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                           "finish_reason": None, "native_finish_reason": None, "logprobs": None}]
    else:
        assert usage_chunk is finish[0]
    assert usage_chunk["usage"]["completion_tokens"] == sum(
        1 for e in events[:-1] if e["choices"] and e["choices"][0]["delta"].get("content"))


def test_usage_sent_without_include_usage_and_matches_json(sim: Sim) -> None:
    request = {"model": "openai/gpt-4o", "messages": user("Paris museums")}
    plain = sim.chat(request).json()
    events = sse_events(sim.chat({**request, "stream": True, "stream_options": {"include_usage": False}}).content)
    usage = next(e["usage"] for e in events[:-1] if "usage" in e)
    assert usage == plain["usage"]
    text = "".join(e["choices"][0]["delta"]["content"] for e in events[:-1] if e["choices"])
    assert text == plain["choices"][0]["message"]["content"]


def test_chunk_tokens_groups_deltas(sim: Sim) -> None:
    events = sse_events(_stream(sim, {"chunk_tokens": 4, "completion_tokens": 12}))
    contents = [e["choices"][0]["delta"]["content"] for e in events[:-1] if e["choices"] and
                e["choices"][0]["delta"]["content"]]
    assert len(contents) == 3


def test_reasoning_deltas_before_content(sim: Sim) -> None:
    events = sse_events(sim.chat({"model": "deepseek/deepseek-r1", "messages": user("Why is the sky blue?"),
                                  "stream": True}).content)
    deltas = [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]
    reasoning = [i for i, d in enumerate(deltas) if d.get("reasoning")]
    content = [i for i, d in enumerate(deltas) if d.get("content")]
    assert reasoning and content and max(reasoning) < min(content)
    first = deltas[reasoning[0]]
    assert first["content"] == ""
    assert first["reasoning_details"] == [{"type": "reasoning.text", "text": first["reasoning"],
                                           "format": "unknown", "index": 0}]
    usage = next(e["usage"] for e in events[:-1] if "usage" in e)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(reasoning)


def test_tool_call_fragments_repeat_id_and_name(sim: Sim) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]
    events = sse_events(sim.chat({"model": "openai/gpt-4o", "messages": user("Weather in Paris and Oslo?"),
                                  "tools": tools, "stream": True}).content)
    fragments = [tc for e in events[:-1] if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls") or []]
    by_index: dict[int, str] = {}
    for fragment in fragments:
        assert fragment["id"].startswith("call_") and fragment["type"] == "function"
        assert fragment["function"]["name"] == "get_weather"
        by_index[fragment["index"]] = by_index.get(fragment["index"], "") + fragment["function"]["arguments"]
    assert by_index == {0: '{"location":"Paris"}', 1: '{"location":"Oslo"}'}
    first = next(f for f in fragments if f["index"] == 0)
    assert first["function"]["arguments"] == ""
    finish = next(e for e in events[:-1] if e["choices"] and e["choices"][0]["finish_reason"])
    assert finish["choices"][0]["finish_reason"] == "tool_calls"


def test_image_delta_chunk(sim: Sim) -> None:
    events = sse_events(sim.chat({"model": "google/gemini-2.5-flash-image", "messages": user("Draw a red fox"),
                                  "modalities": ["image", "text"], "stream": True}).content)
    images = [e["choices"][0]["delta"]["images"] for e in events[:-1] if e["choices"] and
              "images" in e["choices"][0]["delta"]]
    assert len(images) == 1 and images[0][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_pacing_and_keepalive_comments(sim: Sim) -> None:
    started = time.monotonic()
    raw = _stream(sim, {"ttft_ms": 250, "keepalive_ms": 50, "processing_comments": 0, "completion_tokens": 5,
                            "inter_token_ms": 10})
    elapsed = time.monotonic() - started
    assert elapsed >= 0.25 + 0.04
    head = raw.split(b"data: ", 1)[0]
    assert head.count(PROCESSING) == 5
