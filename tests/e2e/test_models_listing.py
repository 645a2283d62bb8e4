"""`GET /v1/models` over real sockets: only what the caller's org may use, OpenRouter's filters, fresh ids found."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

POLICY = """
defaults:
  allow: ["openai/*", "anthropic/*", "google/*"]
  deny: ["openai/gpt-5"]
orgs:
  globex:
    allow: ["anthropic/*"]
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def models_gateway(sim: Sim, policy_file: Path) -> Iterator[ServerThread]:
    settings = gateway_settings(sim.base_url, policy_file=str(policy_file), redis_url=None,
                                models_unknown_refresh_s=0.5)
    with serve(create_app(settings)) as server:
        yield server


def _ids(server: ServerThread, token: str, **params: str) -> set[str]:
    answer = httpx.get(f"{server.url}/v1/models", params=params, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {model["id"] for model in answer.json()["data"]}


def _catalogue(sim: Sim) -> list[dict]:
    return httpx.get(f"{sim.base_url}/models", params={"output_modalities": "all"}).json()["data"]


def test_lists_only_what_the_org_may_use(models_gateway: ServerThread, sim: Sim, token: str) -> None:
    everything = {m["id"] for m in _catalogue(sim)}
    acme = _ids(models_gateway, token)
    assert acme == {i for i in everything if i.split("/")[0] in ("openai", "anthropic", "google")} - {"openai/gpt-5"}
    globex = _ids(models_gateway, mint_token(JWT_SECRET, org="globex", subject="g"))
    assert globex and all(i.startswith("anthropic/") for i in globex)
    # Retrieving a model the org may not use is the same 404 as a model that does not exist.
    denied = httpx.get(f"{models_gateway.url}/v1/models/openai/gpt-5", headers={"authorization": f"Bearer {token}"})
    assert denied.status_code == 404 and denied.json()["error"]["code"] == "model_not_found"


def test_list_all_setting(sim: Sim, policy_file: Path, token: str) -> None:
    settings = gateway_settings(sim.base_url, policy_file=str(policy_file), redis_url=None, models_list_all=True)
    with serve(create_app(settings)) as server:
        assert _ids(server, token) == {m["id"] for m in _catalogue(sim)}


def test_filters(models_gateway: ServerThread, sim: Sim, token: str) -> None:
    catalogue = [m for m in _catalogue(sim) if m["id"] in _ids(models_gateway, token)]

    def expected(predicate) -> set[str]:  # type: ignore[no-untyped-def]
        return {m["id"] for m in catalogue if predicate(m)}

    tools = _ids(models_gateway, token, supported_parameters="tools")
    assert tools == expected(lambda m: "tools" in m["supported_parameters"]) and tools
    both = _ids(models_gateway, token, supported_parameters="tools,reasoning")
    assert both == expected(lambda m: {"tools", "reasoning"} <= set(m["supported_parameters"]))
    assert both < tools
    images = _ids(models_gateway, token, output_modalities="image")
    assert images == expected(lambda m: "image" in m["architecture"]["output_modalities"]) and images
    assert _ids(models_gateway, token, output_modalities="all") == {m["id"] for m in catalogue}
    seeing = _ids(models_gateway, token, input_modalities="image,file")
    assert seeing == expected(lambda m: {"image", "file"} <= set(m["architecture"]["input_modalities"])) and seeing
    cheap = _ids(models_gateway, token, max_prompt_price="0.15", max_completion_price="1")
    assert "openai/gpt-4o-mini" in cheap  # exactly $0.15/M prompt, $0.60/M completion: the bound is inclusive
    assert cheap == expected(lambda m: float(m["pricing"]["prompt"]) * 1e6 <= 0.15 + 1e-9
                             and float(m["pricing"]["completion"]) * 1e6 <= 1 + 1e-9)
    long = _ids(models_gateway, token, min_context_length="1000000")
    assert long == expected(lambda m: (m["context_length"] or 0) >= 1_000_000) and long
    bad = httpx.get(f"{models_gateway.url}/v1/models", params={"max_prompt_price": "cheap"},
                    headers={"authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_prompt_price"


def test_a_model_added_upstream_is_found_before_the_ttl(models_gateway: ServerThread, sim: Sim, token: str) -> None:
    sdk = openai.OpenAI(base_url=f"{models_gateway.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("anthropic/claude-brand-new")
    sim.control.post("/_sim/models", json={"id": "anthropic/claude-brand-new", "like": "anthropic/claude-sonnet-4.5"})
    # Within the refresh interval the 404 stands (unknown ids cannot drive fetches); after it, one refetch finds it.
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("anthropic/claude-brand-new")
    time.sleep(0.6)
    assert sdk.models.retrieve("anthropic/claude-brand-new").id == "anthropic/claude-brand-new"
