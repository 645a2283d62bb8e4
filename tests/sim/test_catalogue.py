"""The `/models` family in OpenRouter's schema, and the CLI that builds a SimConfig."""

from __future__ import annotations

import argparse

from gateway.sim.cli import add_arguments, build_config
from tests.sim.conftest import Sim

REQUIRED = {"id", "canonical_slug", "name", "created", "pricing", "context_length", "architecture", "top_provider",
            "per_request_limits", "supported_parameters", "default_parameters"}


def test_models_schema_and_default_text_filter(sim: Sim) -> None:
    response = sim.client.get(f"{sim.api}/models")
    models = {m["id"]: m for m in response.json()["data"]}
    assert len(models) >= 14
    for model in models.values():
        assert set(model) >= REQUIRED and "object" not in model and "owned_by" not in model
        assert all(isinstance(price, str) for price in model["pricing"].values())
        assert "text" in model["architecture"]["output_modalities"]
    assert "openai/text-embedding-3-small" not in models
    assert models["meta-llama/llama-3.3-70b-instruct:free"]["pricing"]["prompt"] == "0"
    assert models["openai/gpt-5"]["reasoning"]["mandatory"] is True


def test_models_filters_and_count(sim: Sim) -> None:
    everything = sim.client.get(f"{sim.api}/models", params={"output_modalities": "all"}).json()["data"]
    assert "openai/text-embedding-3-small" in {m["id"] for m in everything}
    embeddings = sim.client.get(f"{sim.api}/models", params={"output_modalities": "embeddings"}).json()["data"]
    assert [m["id"] for m in embeddings] == ["openai/text-embedding-3-small", "openai/text-embedding-3-large",
                                             "qwen/qwen3-embedding-8b"]
    with_tools = sim.client.get(f"{sim.api}/models", params={"supported_parameters": "tools,reasoning"}).json()
    assert with_tools["data"] and all({"tools", "reasoning"} <= set(m["supported_parameters"])
                                      for m in with_tools["data"])
    count = sim.client.get(f"{sim.api}/models/count", params={"output_modalities": "all"}).json()
    assert count == {"data": {"count": len(everything)}}


def test_model_endpoints(sim: Sim) -> None:
    data = sim.client.get(f"{sim.api}/models/deepseek/deepseek-chat-v3.1/endpoints").json()["data"]
    assert data["id"] == "deepseek/deepseek-chat-v3.1"
    endpoint = data["endpoints"][0]
    assert {"provider_name", "tag", "quantization", "status", "uptime_last_30m", "latency_last_30m",
            "throughput_last_30m", "pricing", "context_length"} <= set(endpoint)
    assert isinstance(endpoint["pricing"]["prompt"], str)
    assert sim.client.get(f"{sim.api}/models/nope/nothing/endpoints").status_code == 404


def test_cli_builds_config_from_flags() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = parser.parse_args([])
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8090)
    assert build_config(defaults).model_dump() == build_config(parser.parse_args([])).model_dump()
    args = parser.parse_args(["--ttft-ms", "250", "--chunk-tokens", "3", "--usage-chunk", "merged",
                              "--fault-rate", "503=0.1", "--fault-rate", "mid_stream=0.05", "--seed", "9",
                              "--max-concurrency", "8", "--credits-usd", "2.5", "--done-after-error",
                              "--api-key", "sk-or-a", "--port", "9999"])
    config = build_config(args)
    assert config.ttft_ms == 250 and config.chunk_tokens == 3 and config.usage_chunk == "merged"
    assert config.fault_rates == {"503": 0.1, "mid_stream": 0.05} and config.seed == 9
    assert config.max_concurrency == 8 and config.credits_usd == 2.5 and config.done_after_error is True
    assert config.api_keys == ["sk-or-a"] and args.port == 9999
