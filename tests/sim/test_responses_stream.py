"""`/responses` with `stream: true`: event framing and schemas, the SDK's parsers, faults, cancellation."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlparse

import openai
import orjson
import pytest

from tests.openapi_schema import validate
from tests.sim.conftest import KEY, Sim, named_events

PROCESSING = b": OPENROUTER PROCESSING\n\n"
SCHEMAS = {
    "response.created": "ResponseCreatedEvent", "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent", "response.output_text.done": "ResponseTextDoneEvent",
    "response.reasoning_text.delta": "ResponseReasoningTextDeltaEvent",
    "response.reasoning_text.done": "ResponseReasoningTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent", "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent", "error": "ResponseErrorEvent",
}
WEATHER = [{"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}, "strict": True}]


def _stream(sim: Sim, body: dict[str, Any]) -> tuple[bytes, list[tuple[str, dict[str, Any]]]]:
    response = sim.responses({"model": "openai/gpt-4o-mini", "stream": True, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = named_events(response.content)
    for number, (name, data) in enumerate(events):
        assert data["type"] == name and data["sequence_number"] == number
        validate(SCHEMAS[name], data)
    return response.content, events


def _types(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in events]


def test_text_stream_order_schemas_and_usage(sim: Sim) -> None:
    raw, events = _stream(sim, {"input": "Stream about Kyoto temples", "sim": {"processing_comments": 2}})
    assert raw.startswith(PROCESSING * 2 + b"event: response.created\n")
    kinds = _types(events)
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * len(deltas),
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and "usage" not in created
    final = events[-1][1]["response"]
    assert final["id"] == created["id"] and final["status"] == "completed"
    text = final["output"][0]["content"][0]["text"]
    assert "".join(deltas) == text == events[-4][1]["text"] and "Kyoto" in text
    plain = sim.responses({"model": "openai/gpt-4o-mini", "input": "Stream about Kyoto temples"}).json()
    assert final["usage"] == plain["usage"] and final["output"][0]["content"] == plain["output"][0]["content"]
    data = sim.generation(final["id"]).json()["data"]
    assert data["streamed"] is True and data["total_cost"] == final["usage"]["cost"]


def test_function_call_stream(sim: Sim) -> None:
    _, events = _stream(sim, {"model": "openai/gpt-4o", "input": "Weather in Paris and Oslo?", "tools": WEATHER})
    arguments: dict[int, str] = {}
    for name, data in events:
        if name == "response.function_call_arguments.delta":
            arguments[data["output_index"]] = arguments.get(data["output_index"], "") + data["delta"]
    assert arguments == {0: '{"location":"Paris"}', 1: '{"location":"Oslo"}'}
    done = [data for name, data in events if name == "response.function_call_arguments.done"]
    assert [(d["name"], d["arguments"]) for d in done] == [("get_weather", arguments[0]), ("get_weather", arguments[1])]
    added = [data["item"] for name, data in events if name == "response.output_item.added"]
    assert all(item["arguments"] == "" and item["status"] == "in_progress" for item in added)
    final = events[-1][1]["response"]
    assert [item["call_id"] for item in final["output"]] == [item["call_id"] for item in added]


def test_reasoning_stream_before_message(sim: Sim) -> None:
    _, events = _stream(sim, {"model": "deepseek/deepseek-r1", "input": "Why is the sky blue?",
                              "sim": {"chunk_tokens": 3}})
    kinds = _types(events)
    assert kinds.index("response.reasoning_text.done") < kinds.index("response.output_text.delta")
    thought = "".join(data["delta"] for name, data in events if name == "response.reasoning_text.delta")
    final = events[-1][1]["response"]
    assert final["output"][0]["content"][0]["text"] == thought.strip()
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_max_output_tokens_stream_is_incomplete(sim: Sim) -> None:
    _, events = _stream(sim, {"input": "Describe Norway fjords", "max_output_tokens": 4})
    assert events[-1][0] == "response.incomplete"
    final = events[-1][1]["response"]
    assert final["incomplete_details"] == {"reason": "max_output_tokens"} and final["usage"]["output_tokens"] == 4
    assert len([1 for name, _ in events if name == "response.output_text.delta"]) == 4


def test_sdk_stream_and_helper(sim: Sim) -> None:
    client = openai.OpenAI(base_url=sim.api, api_key="sk-or-test", max_retries=0)
    kinds = [event.type for event in client.responses.create(model="openai/gpt-4o-mini", input="Hello from Oslo",
                                                             stream=True)]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    with client.responses.stream(model="openai/gpt-4o", input="Weather in Paris and Oslo?",
                                 tools=WEATHER) as stream:  # type: ignore[arg-type]
        seen = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in seen
    calls = [item for item in final.output if item.type == "function_call"]
    assert [orjson.loads(call.arguments) for call in calls] == [{"location": "Paris"}, {"location": "Oslo"}]
    with client.responses.stream(model="deepseek/deepseek-r1", input="Tell me about Madrid") as stream:
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.output_text == text and "Madrid" in text and final.usage is not None


@pytest.mark.parametrize(("kind", "last"), [("mid_stream", "response.failed"), ("mid_stream_legacy", "error")])
def test_mid_stream_failures(sim: Sim, kind: str, last: str) -> None:
    _, events = _stream(sim, {"input": "Tell me about Madrid", "sim": {"error": kind, "error_after_tokens": 2}})
    assert events[-1][0] == last
    assert len([1 for name, _ in events if name == "response.output_text.delta"]) == 2
    if last == "response.failed":
        failed = events[-1][1]["response"]
        assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
        assert failed["usage"]["cost"] == 0
    else:
        assert events[-1][1]["code"] == "server_error" and events[-1][1]["param"] is None
    assert sim.stats()["billed_usd_total"] == 0


def test_scripted_fault_before_stream_is_http_error(sim: Sim) -> None:
    sim.client.post(f"{sim.base}/_sim/faults", json={"model": "*", "error": 529, "count": 1})
    response = sim.responses({"model": "openai/gpt-4o-mini", "input": "hi", "stream": True})
    assert response.status_code == 529 and response.json()["error"]["code"] == 529


def test_pacing(sim: Sim) -> None:
    started = time.monotonic()
    _stream(sim, {"input": "hi", "sim": {"ttft_ms": 200, "inter_token_ms": 20, "completion_tokens": 6}})
    assert time.monotonic() - started >= 0.2 + 5 * 0.02


def _read_then_close(sim: Sim, model: str, events_to_read: int) -> str:
    url = urlparse(sim.base)
    payload = orjson.dumps({"model": model, "input": "Tell me a long story", "stream": True,
                            "sim": {"completion_tokens": 400, "inter_token_ms": 5, "processing_comments": 0}})
    request = (f"POST /api/v1/responses HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"response.output_text.delta\ndata: ") < events_to_read:
            received += sock.recv(65536)
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    return next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.startswith("x-generation-id"))


@pytest.mark.parametrize(("model", "cancellable"), [("openai/gpt-4o", True), ("google/gemini-2.5-flash", False)])
def test_cancellation_billing(sim: Sim, model: str, cancellable: bool) -> None:
    generation_id = _read_then_close(sim, model, 3)
    deadline = time.monotonic() + 3
    while sim.stats()["streams_cancelled"] < 1:
        assert time.monotonic() < deadline, sim.stats()
        time.sleep(0.02)
    data = sim.generation(generation_id).json()["data"]
    assert data["cancelled"] is True and data["streamed"] is True
    if cancellable:
        assert 3 <= data["native_tokens_completion"] < 100
    else:
        assert data["native_tokens_completion"] == 400
    stats = sim.stats()
    assert stats["billed_usd_total"] == data["total_cost"] > 0 and stats["in_flight"] == 0
    assert sim.requests_log()[-1]["cancelled"] is True
