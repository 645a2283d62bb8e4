"""`POST /api/v1/responses` as JSON: the OpenAI `Response` shape, tools, reasoning, limits, billing, errors."""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from gateway.sim.tokenizer import count_tokens
from tests.openapi_schema import validate
from tests.sim.conftest import AUTH, Sim, user

WEATHER = [{"type": "function", "name": "get_weather", "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                           "required": ["location"]}, "strict": False}]


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate("Response", body)
    return body


def _client(sim: Sim) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.api, api_key="sk-or-test", max_retries=0)


def test_text_response_shape_and_billing_match_chat(sim: Sim) -> None:
    response = sim.responses({"model": "openai/gpt-4o-mini", "input": "Tell me about Kyoto temples",
                              "metadata": {"ticket": "42"}, "temperature": 0.3})
    body = _ok(response)
    assert body["id"].startswith("gen-") and response.headers["x-generation-id"] == body["id"]
    assert body["object"] == "response" and body["status"] == "completed" and body["model"] == "openai/gpt-4o-mini"
    assert body["error"] is None and body["incomplete_details"] is None and "output_text" not in body
    assert body["metadata"] == {"ticket": "42"} and body["temperature"] == 0.3 and body["store"] is False
    assert body["tools"] == [] and body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True
    [message] = body["output"]
    assert message["type"] == "message" and message["role"] == "assistant" and message["status"] == "completed"
    assert message["id"].startswith("msg_")
    [part] = message["content"]
    assert part["type"] == "output_text" and part["annotations"] == [] and "Kyoto" in part["text"]
    chat = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Tell me about Kyoto temples")}).json()
    assert part["text"] == chat["choices"][0]["message"]["content"]
    usage, chat_usage = body["usage"], chat["usage"]
    assert usage["input_tokens"] == chat_usage["prompt_tokens"] and usage["output_tokens"] == chat_usage[
        "completion_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["cost"] == chat_usage["cost"] > 0 and usage["is_byok"] is False
    assert usage["input_tokens_details"]["cached_tokens"] == 0
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0
    details = usage["cost_details"]
    assert details["upstream_inference_input_cost"] + details["upstream_inference_output_cost"] == pytest.approx(
        usage["cost"])


def test_generation_stats_and_request_log(sim: Sim) -> None:
    body = _ok(sim.responses({"model": "openai/gpt-4o", "input": "Explain tides"}))
    data = sim.generation(body["id"]).json()["data"]
    assert data["total_cost"] == body["usage"]["cost"] and data["api_type"] == "completions"
    assert data["native_tokens_prompt"] == body["usage"]["input_tokens"]
    assert data["native_tokens_completion"] == body["usage"]["output_tokens"]
    assert data["streamed"] is False and data["finish_reason"] == "stop" and data["model"] == "openai/gpt-4o"
    assert sim.stats()["billed_usd_total"] == body["usage"]["cost"]
    record = sim.requests_log()[-1]
    assert record["path"] == "/api/v1/responses" and record["generation_id"] == body["id"]
    assert record["cost"] == body["usage"]["cost"] and record["body"]["input"] == "Explain tides"


def test_sdk_parses_json_response(sim: Sim) -> None:
    result = _client(sim).responses.create(model="openai/gpt-4o-mini", input="What is in Lisbon?",
                                           instructions="Be brief.")
    assert result.id.startswith("gen-") and result.status == "completed"
    assert "Lisbon" in result.output_text and result.instructions == "Be brief."
    assert result.usage is not None and result.usage.input_tokens > 0


@pytest.mark.parametrize("field", [{"store": True}, {"previous_response_id": "gen-1-abc"}])
def test_stateful_requests_rejected(sim: Sim, field: dict[str, Any]) -> None:
    response = sim.responses({"model": "openai/gpt-4o-mini", "input": "hi", **field})
    assert response.status_code == 400
    error = response.json()
    assert error["error"]["code"] == 400 and "stateless" in error["error"]["message"]
    assert error["user_id"].startswith("user_")
    assert sim.stats()["completions_total"] == 0
    assert _ok(sim.responses({"model": "openai/gpt-4o-mini", "input": "hi", "store": False,
                              "previous_response_id": None}))["status"] == "completed"
    with pytest.raises(openai.BadRequestError):
        _client(sim).responses.create(model="openai/gpt-4o-mini", input="hi", store=True)


def test_parallel_function_calls_then_folded_answer(sim: Sim) -> None:
    first = _ok(sim.responses({"model": "openai/gpt-4o", "input": "Weather in Paris and London?",
                               "tools": WEATHER}))
    calls = first["output"]
    assert [c["type"] for c in calls] == ["function_call", "function_call"]
    assert [orjson.loads(c["arguments"]) for c in calls] == [{"location": "Paris"}, {"location": "London"}]
    assert all(c["name"] == "get_weather" and c["call_id"].startswith("call_") and c["id"].startswith("fc_")
               and c["status"] == "completed" for c in calls)
    assert first["tools"][0]["name"] == "get_weather" and first["usage"]["output_tokens"] > 0
    history: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris and London?"}]
    history += [{"type": "function_call", "call_id": c["call_id"], "name": c["name"], "arguments": c["arguments"]}
                for c in calls]
    history += [{"type": "function_call_output", "call_id": calls[0]["call_id"], "output": "18C sunny"},
                {"type": "function_call_output", "call_id": calls[1]["call_id"], "output": "12C rain"}]
    second = _ok(sim.responses({"model": "openai/gpt-4o", "input": history, "tools": WEATHER}))
    text = second["output"][0]["content"][0]["text"]
    assert second["output"][0]["type"] == "message"
    assert "get_weather returned 18C sunny" in text and "get_weather returned 12C rain" in text


def test_tool_choice_and_parallel_off(sim: Sim) -> None:
    tools = [*WEATHER, {"type": "function", "name": "get_time", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": None}]
    body = _ok(sim.responses({"model": "openai/gpt-4o", "input": "Weather in Paris and Rome?", "tools": tools,
                              "tool_choice": {"type": "function", "name": "get_time"},
                              "parallel_tool_calls": False}))
    assert [(c["name"], orjson.loads(c["arguments"])) for c in body["output"]] == [("get_time", {"city": "Paris"})]
    assert body["tool_choice"] == {"type": "function", "name": "get_time"} and body["parallel_tool_calls"] is False
    none = _ok(sim.responses({"model": "openai/gpt-4o", "input": "Weather in Paris?", "tools": tools,
                              "tool_choice": "none"}))
    assert [item["type"] for item in none["output"]] == ["message"]


def test_input_items_images_and_instructions(sim: Sim) -> None:
    items = [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "What is in this picture of Venice?"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}]}]
    body = _ok(sim.responses({"model": "openai/gpt-4o", "input": items, "instructions": "Answer in English."}))
    assert body["instructions"] == "Answer in English."
    text = body["output"][0]["content"][0]["text"]
    assert text.startswith("I see 1 image.") and "Venice" in text
    plain = _ok(sim.responses({"model": "openai/gpt-4o", "input": "What is in this picture of Venice?"}))
    # + the image part (85) + the instructions message (3 framing + 4 tokens).
    assert body["usage"]["input_tokens"] == plain["usage"]["input_tokens"] + 85 + 3 + 4


def test_max_output_tokens_is_incomplete(sim: Sim) -> None:
    body = _ok(sim.responses({"model": "openai/gpt-4o-mini", "input": "Describe Norway fjords",
                              "max_output_tokens": 5}))
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] == 5 and body["max_output_tokens"] == 5
    assert body["output"][0]["status"] == "incomplete" and body["completed_at"] is None
    assert sim.generation(body["id"]).json()["data"]["finish_reason"] == "length"


def test_reasoning_items(sim: Sim) -> None:
    shown = _ok(sim.responses({"model": "openai/gpt-5", "input": "Plan a trip to Japan",
                               "reasoning": {"effort": "high", "summary": "auto"}}))
    reasoning, message = shown["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_") and reasoning["summary"] == []
    assert reasoning["content"][0]["type"] == "reasoning_text" and "Japan" in reasoning["content"][0]["text"]
    assert message["type"] == "message"
    assert shown["reasoning"] == {"effort": "high", "summary": "auto"}
    reasoning_tokens = shown["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens == count_tokens(reasoning["content"][0]["text"]) > 0
    hidden = _ok(sim.responses({"model": "openai/gpt-5", "input": "Plan a trip to Japan",
                                "reasoning": {"effort": "high", "exclude": True}}))
    assert "content" not in hidden["output"][0]
    assert hidden["usage"]["output_tokens_details"]["reasoning_tokens"] == reasoning_tokens
    assert hidden["usage"]["cost"] == shown["usage"]["cost"]


def test_text_format_json_schema(sim: Sim) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"], "additionalProperties": False}
    text_format = {"format": {"type": "json_schema", "name": "trip", "schema": schema, "strict": True}}
    body = _ok(sim.responses({"model": "openai/gpt-4o", "input": "Plan a trip", "text": text_format}))
    parsed = orjson.loads(body["output"][0]["content"][0]["text"])
    assert set(parsed) == {"city", "days"} and isinstance(parsed["days"], int)
    assert body["text"] == text_format


def test_errors_faults_and_fallbacks(sim: Sim) -> None:
    failed = sim.responses({"model": "openai/gpt-4o-mini", "input": "hi", "sim": {"error": 503, "retry_after": 4}})
    assert failed.status_code == 503 and failed.json()["error"]["code"] == 503
    assert failed.headers["retry-after"] == "4"
    assert sim.responses({"model": "openai/gpt-4o-mini", "input": "hi"}, {"X-Sim-Error": "429"}).status_code == 429
    assert sim.responses({"model": "nope/nothing", "input": "hi"}).status_code == 400
    fallback = _ok(sim.responses({"model": "openai/gpt-4o-mini", "models": ["anthropic/claude-haiku-4.5"],
                                  "input": "hi", "sim": {"error": 502, "fail_models": ["openai/gpt-4o-mini"]}}))
    assert fallback["model"] == "anthropic/claude-haiku-4.5"
    sim.client.post(f"{sim.base}/_sim/faults", json={"model": "openai/gpt-4o", "error": 500, "count": 1})
    assert sim.responses({"model": "openai/gpt-4o", "input": "hi"}).status_code == 500
    assert sim.responses({"model": "openai/gpt-4o", "input": "hi"}).status_code == 200
    assert sim.responses({"model": "openai/gpt-4o", "input": []}).status_code == 400
    assert sim.responses({"model": "openai/gpt-4o", "input": [{"type": "bogus"}]}).status_code == 400
    assert sim.client.post(f"{sim.api}/responses", json={"input": "hi"}).status_code == 401


def test_in_band_failures_are_free(sim: Sim) -> None:
    in_200 = sim.responses({"model": "openai/gpt-4o-mini", "input": "hi", "sim": {"error": "error_in_200"}})
    assert in_200.status_code == 200 and in_200.json()["error"]["code"] == 502
    partial = _ok(sim.responses({"model": "openai/gpt-4o-mini", "input": "Tell me about Madrid",
                                 "sim": {"error": "mid_stream", "error_after_tokens": 3}}))
    assert partial["status"] == "failed" and partial["error"] == {"code": "server_error",
                                                                  "message": "Provider disconnected"}
    assert partial["output"][0]["content"][0]["text"] == "You asked about"
    assert partial["usage"]["cost"] == 0 and partial["usage"]["output_tokens"] == 0
    assert sim.stats()["billed_usd_total"] == 0
    assert sim.generation(partial["id"]).json()["data"]["finish_reason"] == "error"


def test_credit_precheck_uses_max_output_tokens(sim: Sim) -> None:
    sim.configure(credits_usd=0.01)
    sim.client.post(f"{sim.base}/_sim/reset")
    body = {"model": "openai/gpt-4o", "input": "hi"}
    assert sim.responses(body).status_code == 402
    assert sim.responses({**body, "max_output_tokens": 200}).status_code == 200
    assert sim.client.post(f"{sim.api}/responses", content=b"not json", headers=AUTH).status_code == 400
