"""Useful deterministic answers: tools, tool results, structured output, images, reasoning."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import jsonschema
import orjson

from tests.sim.conftest import Sim, user

WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["location", "unit"]}}}]


def _message(sim: Sim, body: dict[str, Any]) -> dict[str, Any]:
    response = sim.chat(body)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]  # type: ignore[no-any-return]


def test_parallel_tool_calls_fill_required_params(sim: Sim) -> None:
    body = {"model": "openai/gpt-4o", "messages": user("What's the weather in Paris and London?"), "tools": WEATHER}
    response = sim.chat(body).json()
    assert response["choices"][0]["finish_reason"] == "tool_calls"
    calls = response["choices"][0]["message"]["tool_calls"]
    assert [orjson.loads(c["function"]["arguments"]) for c in calls] == [
        {"location": "Paris", "unit": "celsius"}, {"location": "London", "unit": "celsius"}]
    assert len({c["id"] for c in calls}) == 2
    single = _message(sim, {**body, "parallel_tool_calls": False})
    assert len(single["tool_calls"]) == 1


def test_tool_choice_none_answers_in_text(sim: Sim) -> None:
    message = _message(sim, {"model": "openai/gpt-4o", "messages": user("Weather in Rome?"), "tools": WEATHER,
                             "tool_choice": "none"})
    assert "tool_calls" not in message and "Rome" in message["content"]


def test_tool_results_folded_into_answer(sim: Sim) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [*user("Weather in Paris?"), {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"}]
    response = sim.chat({"model": "openai/gpt-4o", "messages": messages, "tools": WEATHER}).json()
    assert response["choices"][0]["finish_reason"] == "stop"
    assert "get_weather returned 18C and sunny" in response["choices"][0]["message"]["content"]


def test_json_schema_output_validates(sim: Sim) -> None:
    schema = {"type": "object", "properties": {
        "city": {"type": "string", "minLength": 3}, "population": {"type": "integer", "minimum": 1000},
        "score": {"type": "number", "maximum": 0.5}, "capital": {"type": "boolean"},
        "kind": {"enum": ["big", "small"]}, "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "geo": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]}},
        "required": ["city", "population", "score", "capital", "kind", "tags", "geo"], "additionalProperties": False}
    message = _message(sim, {"model": "openai/gpt-4o-mini", "messages": user("Describe Lyon"),
                             "response_format": {"type": "json_schema",
                                                 "json_schema": {"name": "city", "strict": True, "schema": schema}}})
    jsonschema.validate(orjson.loads(message["content"]), schema)


def test_json_object_output(sim: Sim) -> None:
    message = _message(sim, {"model": "openai/gpt-4o-mini", "messages": user("Summarise Berlin"),
                             "response_format": {"type": "json_object"}})
    document = orjson.loads(message["content"])
    assert isinstance(document, dict) and "Berlin" in document["topics"]


def _check_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, kinds = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        payload = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IDAT":
            zlib.decompress(payload)
        offset += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_image_output_is_a_valid_png_billed_at_image_rate(sim: Sim) -> None:
    response = sim.chat({"model": "google/gemini-2.5-flash-image", "messages": user("Draw a lighthouse"),
                         "modalities": ["image", "text"]}).json()
    image = response["choices"][0]["message"]["images"][0]
    assert image["type"] == "image_url" and image["index"] == 0
    _check_png(base64.b64decode(image["image_url"]["url"].split(",", 1)[1]))
    usage = response["usage"]
    assert usage["completion_tokens_details"]["image_tokens"] == 1290
    text_tokens = usage["completion_tokens"] - 1290
    expected = usage["prompt_tokens"] * 0.0000003 + text_tokens * 0.0000025 + 1290 * 0.00003
    assert abs(usage["cost"] - expected) < 1e-12


def test_image_modality_on_text_model_is_400(sim: Sim) -> None:
    response = sim.chat({"model": "openai/gpt-4o", "messages": user("Draw"), "modalities": ["image", "text"]})
    assert response.status_code == 400 and "image output" in response.json()["error"]["message"]


def test_input_images_acknowledged(sim: Sim) -> None:
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    response = sim.chat({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": parts}]}).json()
    assert response["choices"][0]["message"]["content"].startswith("I see 1 image.")
    assert response["usage"]["prompt_tokens"] >= 85


def test_reasoning_model_and_exclude(sim: Sim) -> None:
    shown = sim.chat({"model": "openai/gpt-5", "messages": user("Plan a trip to Japan")}).json()
    message = shown["choices"][0]["message"]
    assert message["reasoning"] and message["reasoning_details"][0]["type"] == "reasoning.text"
    reasoning_tokens = shown["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens > 0 and shown["usage"]["completion_tokens"] > reasoning_tokens
    hidden = sim.chat({"model": "openai/gpt-5", "messages": user("Plan a trip to Japan"),
                       "reasoning": {"exclude": True}}).json()
    assert hidden["choices"][0]["message"]["reasoning"] is None
    assert "reasoning_details" not in hidden["choices"][0]["message"]
    assert hidden["usage"] == shown["usage"]


def test_optional_reasoning_only_when_asked(sim: Sim) -> None:
    plain = sim.chat({"model": "anthropic/claude-sonnet-4.5", "messages": user("hello")}).json()
    assert plain["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    asked = sim.chat({"model": "anthropic/claude-sonnet-4.5", "messages": user("hello"),
                      "reasoning": {"effort": "high"}}).json()
    assert asked["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
