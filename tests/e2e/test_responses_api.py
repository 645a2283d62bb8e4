"""The Responses API (`POST /v1/responses`) through the gateway, driven by the official openai SDK and raw HTTP."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import Sim
from tests.openapi_schema import validate

MODEL = "openai/gpt-4o-mini"
PROMPT = "What is the capital of France?"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
        "additionalProperties": False,
    },
    "strict": True,
}


@pytest.fixture
def sdk(gateway_url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)


def _upstream(sim: Sim, path: str = "/responses") -> list[dict[str, Any]]:
    """The generation requests the simulator received on `path` (catalogue fetches and the like excluded)."""
    return [r for r in sim.requests(limit=100) if r["path"].endswith(path)]


def _sse(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(event name, data object) per SSE event; comments skipped."""
    events: list[tuple[str | None, dict[str, Any]]] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        name: str | None = None
        data: bytes | None = None
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[len(b"event: "):].decode()
            elif line.startswith(b"data: "):
                data = line[len(b"data: "):]
        if data is not None:
            events.append((name, orjson.loads(data)))
    return events


def test_json_response_with_the_sdk(sdk: openai.OpenAI, client: httpx.Client, sim: Sim) -> None:
    raw = sdk.responses.with_raw_response.create(model=MODEL, input=PROMPT, instructions="Be brief.")
    assert raw.status_code == 200
    assert float(raw.headers["x-gateway-cost-usd"]) > 0
    assert raw.headers["x-gateway-model-served"] == MODEL
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODEL
    assert response.output_text
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0

    body = orjson.loads(raw.http_response.content)
    validate("Response", body)
    [sent] = _upstream(sim)
    assert sent["body"]["input"] == PROMPT and sent["body"]["instructions"] == "Be brief."

    # The same request over plain HTTP: the same deterministic answer, and the body still validates.
    plain = client.post("/responses", json={"model": MODEL, "input": PROMPT, "instructions": "Be brief."})
    assert plain.status_code == 200
    validate("Response", plain.json())
    assert plain.json()["output"][0]["content"][0]["text"] == response.output_text


def test_streamed_events_with_the_sdk(sdk: openai.OpenAI) -> None:
    expected = sdk.responses.create(model=MODEL, input=PROMPT).output_text
    events = list(sdk.responses.create(model=MODEL, input=PROMPT, stream=True))
    types = [event.type for event in events]
    assert types[0] == "response.created"
    assert types[1] == "response.in_progress"
    assert types[-1] == "response.completed"
    assert types.count("response.completed") == 1
    assert "response.failed" not in types and "error" not in types
    sequence = [event.sequence_number for event in events]
    assert sequence == list(range(sequence[0], sequence[0] + len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens > 0
    assert deltas.strip() == final.output_text == expected
    done = [event.text for event in events if event.type == "response.output_text.done"]
    assert done == [final.output_text]
    validate("Response", final.model_dump(mode="json", exclude_unset=True))


def test_stream_helper_final_response(sdk: openai.OpenAI) -> None:
    expected = sdk.responses.create(model=MODEL, input=PROMPT).output_text
    texts: list[str] = []
    with sdk.responses.stream(model=MODEL, input=PROMPT) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                texts.append(event.delta)
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text == expected
    assert "".join(texts).strip() == expected


def test_function_tools_come_back_as_function_call_items(sdk: openai.OpenAI, sim: Sim) -> None:
    raw = sdk.responses.with_raw_response.create(
        model=MODEL, input="What is the weather in Paris and London?", tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    body = orjson.loads(raw.http_response.content)
    validate("Response", body)
    response = raw.parse()
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 2 and len(response.output) == 2
    assert {call.name for call in calls} == {"get_weather"}
    assert sorted(json.loads(call.arguments)["location"] for call in calls) == ["London", "Paris"]
    assert len({call.call_id for call in calls}) == 2
    assert _upstream(sim)[0]["body"]["tools"][0]["name"] == "get_weather"  # flat Responses shape, unconverted

    # Streamed, through the SDK's helper: the same calls.
    with sdk.responses.stream(
        model=MODEL, input="What is the weather in Paris and London?", tools=[WEATHER_TOOL],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_response()
    streamed = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, c.arguments) for c in streamed] == [(c.name, c.arguments) for c in calls]


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"store": True}, "store"), ({"previous_response_id": "resp_123"}, "previous_response_id")],
)
def test_stateful_features_are_rejected_before_upstream(
    sdk: openai.OpenAI, sim: Sim, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.responses.create(model=MODEL, input=PROMPT, **extra)
    error = caught.value
    assert error.status_code == 400
    assert error.type == "invalid_request_error"
    assert error.param == param
    assert _upstream(sim) == []
    assert sim.stats()["requests_total"] == 0


def test_bad_token_is_401_before_anything(gateway_url: str, sim: Sim) -> None:
    bad = openai.OpenAI(base_url=gateway_url, api_key="not-a-valid-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.responses.create(model=MODEL, input=PROMPT, store=True)  # auth first, whatever the body says
    assert caught.value.status_code == 401
    assert sim.stats()["requests_total"] == 0


def test_unknown_model_is_404(sdk: openai.OpenAI, sim: Sim) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.create(model="openai/no-such-model", input=PROMPT)
    assert caught.value.status_code == 404
    assert caught.value.param == "model"
    assert _upstream(sim) == []


def test_upstream_503_is_a_503_envelope(sdk: openai.OpenAI, client: httpx.Client, sim: Sim) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.responses.create(model=MODEL, input=PROMPT, extra_body={"sim": {"error": 503}})
    assert caught.value.status_code == 503
    for stream in (False, True):
        response = client.post("/responses", json={"model": MODEL, "input": PROMPT, "stream": stream,
                                                   "sim": {"error": 503}})
        assert response.status_code == 503, stream
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"}
        assert error["type"] == "api_error" and error["message"]
    assert len(_upstream(sim)) == 3  # one attempt each (the e2e policy does not retry)


def test_task_name_routes(sdk: openai.OpenAI, sim: Sim) -> None:
    raw = sdk.responses.with_raw_response.create(model="planner", input=PROMPT)
    assert raw.status_code == 200
    assert raw.headers["x-gateway-task"] == "planner"
    assert raw.headers["x-gateway-model-requested"] == "planner"
    assert raw.headers["x-gateway-model-routed"] == "openai/gpt-4o"
    assert raw.headers["x-gateway-model-served"] == "openai/gpt-4o"
    assert raw.parse().model == "openai/gpt-4o"
    [sent] = _upstream(sim)
    assert sent["body"]["model"] == "openai/gpt-4o"
    assert sent["body"]["temperature"] == 0.2  # the task's params travel in Responses shape


def test_streamed_task_name_routes(client: httpx.Client, sim: Sim) -> None:
    with client.stream("POST", "/responses", json={"model": "planner", "input": PROMPT, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-gateway-task"] == "planner"
        assert response.headers["x-gateway-model-routed"] == "openai/gpt-4o"
        events = _sse(response.read())
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["model"] == "openai/gpt-4o"


def test_mid_stream_failure_ends_the_stream(sdk: openai.OpenAI, client: httpx.Client) -> None:
    knobs = {"sim": {"error": "mid_stream", "error_after_tokens": 2}}
    # Raw: the gateway relays the upstream's terminal `response.failed` and adds nothing after it.
    with client.stream("POST", "/responses", json={"model": MODEL, "input": PROMPT, "stream": True, **knobs}) as r:
        assert r.status_code == 200
        events = _sse(r.read())
    names = [name for name, _ in events]
    assert names[-1] in ("response.failed", "error")
    assert names.count("response.failed") + names.count("error") == 1
    assert "response.completed" not in names
    assert [data["type"] for _, data in events] == names
    assert sum(1 for name in names if name == "response.output_text.delta") == 2

    # The SDK's raw event stream reports it as the last event (it does not raise on Responses events).
    sdk_events = list(sdk.responses.create(model=MODEL, input=PROMPT, stream=True, extra_body=knobs))
    assert sdk_events[-1].type == "response.failed"
    failed = sdk_events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None and failed.error.message
    assert "response.completed" not in [event.type for event in sdk_events]

    # The helper has no final response to give: it raises.
    with (
        sdk.responses.stream(model=MODEL, input=PROMPT, extra_body=knobs) as stream,
        pytest.raises(RuntimeError, match=r"response\.completed"),
    ):
        stream.get_final_response()


def test_legacy_mid_stream_error_event(sdk: openai.OpenAI) -> None:
    knobs = {"sim": {"error": "mid_stream_legacy", "error_after_tokens": 2}}
    events = list(sdk.responses.create(model=MODEL, input=PROMPT, stream=True, extra_body=knobs))
    assert events[-1].type == "error"
    assert events[-1].message  # type: ignore[union-attr]
    assert [event.type for event in events].count("error") == 1


def test_upstream_disconnect_ends_with_one_error_event(client: httpx.Client) -> None:
    body = {"model": MODEL, "input": PROMPT, "stream": True, "sim": {"error": "disconnect", "error_after_tokens": 2}}
    with client.stream("POST", "/responses", json=body) as response:
        assert response.status_code == 200
        events = _sse(response.read())
    name, data = events[-1]
    assert name == "error" and data["type"] == "error"
    assert data["code"] == "upstream_stream_truncated"
    assert data["sequence_number"] == events[-2][1]["sequence_number"] + 1
    assert "response.completed" not in [n for n, _ in events]


def test_client_disconnect_cancels_upstream(gateway_url: str, token: str, sim: Sim) -> None:
    body = orjson.dumps({"model": "openai/gpt-4o", "input": "Tell me a long story", "stream": True,
                         "sim": {"inter_token_ms": 50, "completion_tokens": 400}})
    host, port = gateway_url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        received = b""
        while received.count(b"response.output_text.delta") < 3:
            chunk = sock.recv(65536)
            assert chunk, f"the gateway closed the stream early: {received[:500]!r}"
            received += chunk
    # 400 tokens at 50 ms would take 20 s; the upstream must see the cancellation well before that.
    deadline = time.monotonic() + 5
    while sim.stats()["streams_cancelled"] < 1:
        assert time.monotonic() < deadline, "upstream stream was not cancelled after the client left"
        time.sleep(0.05)
    [record] = _upstream(sim)
    assert record["cancelled"] is True
