"""Non-streaming chat completions: OpenRouter's exact body, ids, headers, tokens and cost."""

from __future__ import annotations

import re

from gateway.sim.catalogue import MODELS
from gateway.sim.tokenizer import count_tokens, split_tokens
from tests.sim.conftest import Sim, user

GEN_ID = re.compile(r"^gen-\d{10}-[A-Za-z0-9]{20}$")
PRICES = {m["id"]: m["pricing"] for m in MODELS}


def test_body_shape_and_field_order(sim: Sim) -> None:
    response = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("What is the capital of France?")})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["id", "provider", "model", "object", "created", "choices", "usage"]
    assert GEN_ID.match(body["id"])
    assert response.headers["x-generation-id"] == body["id"]
    assert body["provider"] == "OpenAI" and body["model"] == "openai/gpt-4o-mini"
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert list(choice) == ["logprobs", "finish_reason", "native_finish_reason", "index", "message"]
    assert choice["logprobs"] is None and choice["finish_reason"] == "stop"
    message = choice["message"]
    assert list(message) == ["role", "content", "refusal", "reasoning"]
    assert message["refusal"] is None and message["reasoning"] is None
    assert "capital" in message["content"] and "France" in message["content"]
    usage = body["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost", "is_byok",
                          "prompt_tokens_details", "cost_details", "completion_tokens_details"}
    assert usage["is_byok"] is False and usage["cost_details"]["upstream_inference_cost"] is None
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0, "image_tokens": 0}


def test_tokens_and_cost_follow_the_tokenizer_and_price(sim: Sim) -> None:
    text = "Tell me something about Lisbon trams, please."
    body = sim.chat({"model": "openai/gpt-4o", "messages": user(text)}).json()
    usage = body["usage"]
    assert usage["prompt_tokens"] == 3 + 3 + count_tokens(text)
    assert usage["completion_tokens"] == count_tokens(body["choices"][0]["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    prompt_cost = usage["prompt_tokens"] * float(PRICES["openai/gpt-4o"]["prompt"])
    completion_cost = usage["completion_tokens"] * float(PRICES["openai/gpt-4o"]["completion"])
    assert abs(usage["cost"] - (prompt_cost + completion_cost)) < 1e-12
    assert abs(usage["cost_details"]["upstream_inference_prompt_cost"] - prompt_cost) < 1e-12


def test_same_request_same_answer(sim: Sim) -> None:
    request = {"model": "mistralai/mistral-small-3.2-24b-instruct", "messages": user("Compare Rust and Go")}
    first, second = sim.chat(request).json(), sim.chat(request).json()
    assert first["id"] != second["id"]
    assert first["choices"] == second["choices"] and first["usage"] == second["usage"]


def test_max_tokens_cuts_with_length(sim: Sim) -> None:
    body = sim.chat({"model": "anthropic/claude-haiku-4.5", "messages": user("Describe the ocean currents"),
                     "max_tokens": 4}).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length" and choice["native_finish_reason"] == "max_tokens"
    assert body["usage"]["completion_tokens"] == 4
    assert len(split_tokens(choice["message"]["content"])) == 4


def test_max_completion_tokens_and_forced_length(sim: Sim) -> None:
    body = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi"), "sim": {"completion_tokens": 50},
                     "max_completion_tokens": 30}).json()
    assert body["usage"]["completion_tokens"] == 30
    assert body["choices"][0]["finish_reason"] == "length"
    long = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi"), "sim": {"completion_tokens": 50}})
    assert long.json()["usage"]["completion_tokens"] == 50


def test_native_finish_reason_per_provider(sim: Sim) -> None:
    gemini = sim.chat({"model": "google/gemini-2.5-flash", "messages": user("hello")}).json()
    assert gemini["provider"] == "Google AI Studio"
    assert gemini["choices"][0]["native_finish_reason"] == "STOP"
    claude = sim.chat({"model": "anthropic/claude-sonnet-4.5", "messages": user("hello")}).json()
    assert claude["choices"][0]["native_finish_reason"] == "end_turn"


def test_n_is_ignored_and_legacy_fields_accepted(sim: Sim) -> None:
    body = sim.chat({
        "model": "openai/gpt-4o-mini", "messages": user("hello there"), "n": 3, "usage": {"include": True},
        "stream_options": {"include_usage": True}, "transforms": ["middle-out"], "include_reasoning": True,
        "route": "fallback",
    }).json()
    assert len(body["choices"]) == 1


def test_stop_sequence_truncates(sim: Sim) -> None:
    body = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("Talk about Venice"), "stop": ["simulated"]})
    content = body.json()["choices"][0]["message"]["content"]
    assert content == "You asked about Talk, Venice. This is a"
    assert body.json()["choices"][0]["finish_reason"] == "stop"


def test_free_variant_costs_nothing(sim: Sim) -> None:
    body = sim.chat({"model": "meta-llama/llama-3.3-70b-instruct:free", "messages": user("hello")}).json()
    assert body["model"] == "meta-llama/llama-3.3-70b-instruct:free"
    assert body["usage"]["cost"] == 0 and body["usage"]["completion_tokens"] > 0
