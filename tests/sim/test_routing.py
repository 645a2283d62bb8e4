"""Model fallbacks, provider preferences, variants and the auto router."""

from __future__ import annotations

from typing import Any

from tests.sim.conftest import Sim, user


def _chat(server: Sim, **body: Any) -> Any:
    return server.chat({"messages": user("hello Lisbon"), **body})


def test_models_fallback_with_fail_models(sim: Sim) -> None:
    response = _chat(sim, model="openai/gpt-4o", models=["anthropic/claude-haiku-4.5", "google/gemini-2.5-flash"],
                     sim={"error": 503, "fail_models": ["openai/gpt-4o", "anthropic/claude-haiku-4.5"]})
    assert response.status_code == 200
    assert response.json()["model"] == "google/gemini-2.5-flash"
    assert sim.stats()["requests_by_model"] == {
        "openai/gpt-4o": 1, "anthropic/claude-haiku-4.5": 1, "google/gemini-2.5-flash": 1}
    record = sim.generation(response.json()["id"]).json()["data"]
    assert [r["status"] for r in record["provider_responses"]] == [503, 503, 200]


def test_all_models_fail_returns_last_error(sim: Sim) -> None:
    response = _chat(sim, models=["openai/gpt-4o", "openai/gpt-4o-mini"], sim={"error": 429})
    assert response.status_code == 429
    assert "openai/gpt-4o-mini" in response.json()["error"]["metadata"]["raw"]


def test_scripted_fault_falls_through(sim: Sim) -> None:
    sim.client.post(f"{sim.base}/_sim/faults", json={"model": "openai/gpt-4o", "error": 502, "count": 1})
    first = _chat(sim, model="openai/gpt-4o", models=["x-ai/grok-4"])
    assert first.json()["model"] == "x-ai/grok-4" and first.json()["provider"] == "xAI"
    assert _chat(sim, model="openai/gpt-4o").json()["model"] == "openai/gpt-4o"


def test_provider_order_only_ignore(sim: Sim) -> None:
    model = "meta-llama/llama-3.3-70b-instruct"
    assert _chat(sim, model=model).json()["provider"] == "DeepInfra"
    assert _chat(sim, model=model, provider={"order": ["groq", "together"]}).json()["provider"] == "Groq"
    assert _chat(sim, model=model, provider={"only": ["together"]}).json()["provider"] == "Together"
    assert _chat(sim, model=model, provider={"ignore": ["deepinfra"]}).json()["provider"] == "Groq"
    assert _chat(sim, model=model, provider={"sort": "throughput"}).json()["provider"] == "Groq"
    assert _chat(sim, model=model, provider={"sort": {"by": "latency"}}).json()["provider"] == "Groq"


def test_provider_filters_remove_everything(sim: Sim) -> None:
    response = _chat(sim, model="openai/gpt-4o", provider={"only": ["groq"]})
    assert response.status_code == 404 and "No endpoints found" in response.json()["error"]["message"]
    cheap = _chat(sim, model="openai/gpt-4o", provider={"max_price": {"prompt": 1}})
    assert cheap.status_code == 404
    assert _chat(sim, model="openai/gpt-4o", provider={"max_price": {"prompt": 3, "completion": 10}}).status_code == 200
    pinned = _chat(sim, model="openai/gpt-4o", provider={"order": ["mistral"], "allow_fallbacks": False})
    assert pinned.status_code == 404
    fallback = _chat(sim, model="openai/gpt-4o", provider={"order": ["mistral"], "allow_fallbacks": True})
    assert fallback.status_code == 200


def test_price_follows_the_serving_endpoint(sim: Sim) -> None:
    model = "meta-llama/llama-3.3-70b-instruct"
    cheap = _chat(sim, model=model).json()["usage"]["cost"]
    groq = _chat(sim, model=model, provider={"order": ["groq"]}).json()["usage"]["cost"]
    assert abs(groq - cheap * 4.5) < 1e-12


def test_variants(sim: Sim) -> None:
    nitro = _chat(sim, model="meta-llama/llama-3.3-70b-instruct:nitro").json()
    assert nitro["model"] == "meta-llama/llama-3.3-70b-instruct:nitro" and nitro["provider"] == "Groq"
    for variant in ("floor", "online", "exacto", "extended"):
        assert _chat(sim, model=f"openai/gpt-4o:{variant}").json()["model"] == f"openai/gpt-4o:{variant}"
    thinking = _chat(sim, model="anthropic/claude-sonnet-4.5:thinking").json()
    assert thinking["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    missing_free = _chat(sim, model="openai/gpt-4o:free")
    assert missing_free.status_code == 404
    assert missing_free.json()["error"]["message"] == "No endpoints found for openai/gpt-4o:free."
    assert _chat(sim, model="openai/gpt-4o:turbo").status_code == 400


def test_auto_router_resolves(sim: Sim) -> None:
    plain = _chat(sim, model="openrouter/auto").json()
    assert plain["model"] == "openai/gpt-4o-mini"
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    assert _chat(sim, model="openrouter/auto", tools=tools).json()["model"] == "anthropic/claude-sonnet-4.5"
    image = _chat(sim, model="openrouter/auto", modalities=["image", "text"]).json()
    assert image["model"] == "google/gemini-2.5-flash-image"


def test_default_model_when_absent(sim: Sim) -> None:
    assert _chat(sim).json()["model"] == "openai/gpt-4o-mini"
