from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import InvalidRequestError
from gateway.policy import PolicyError, load_policy, parse_policy

REPO = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = REPO / "policies" / "default.yaml"

# The simulator's catalogue: the shipped policy must only name models that exist there.
CATALOGUE = {
    "openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-5", "anthropic/claude-sonnet-4.5",
    "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash", "google/gemini-2.5-pro",
    "google/gemini-2.5-flash-image", "deepseek/deepseek-chat-v3.1", "deepseek/deepseek-r1",
    "meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct:free",
    "mistralai/mistral-small-3.2-24b-instruct", "qwen/qwen3-235b-a22b", "x-ai/grok-4",
}


def test_default_policy_loads_with_the_design_tasks() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.source == str(DEFAULT_POLICY)
    routes = {task: policy.resolve(task, "someone") for task in ("planner", "critic", "draft", "image")}
    assert routes["planner"].models == ("openai/gpt-5", "anthropic/claude-sonnet-4.5")
    assert routes["critic"].models == ("anthropic/claude-sonnet-4.5", "openai/gpt-4o")
    assert routes["draft"].models == ("deepseek/deepseek-chat-v3.1", "meta-llama/llama-3.3-70b-instruct")
    assert routes["image"].models == ("google/gemini-2.5-flash-image",)
    assert routes["image"].params["modalities"] == ["image", "text"] and "modalities" in routes["image"].pinned
    assert all(route.max_cost_usd for route in routes.values())


def test_default_policy_names_only_catalogue_models() -> None:
    policy = load_policy(DEFAULT_POLICY)
    document = policy.document
    named = set(document.aliases.values())
    for task in document.tasks:
        named.update(policy.resolve(task, "someone").models)
    for org, org_policy in document.orgs.items():
        for task in org_policy.tasks:
            named.update(policy.resolve(task, org).models)
    assert named <= CATALOGUE, named - CATALOGUE


def test_default_policy_example_org_plans_without_the_denied_model() -> None:
    policy = load_policy(DEFAULT_POLICY)
    route = policy.resolve("planner", "acme")
    assert route.models[0] == "anthropic/claude-sonnet-4.5"
    assert not any(model.startswith("openai/gpt-5") for model in route.models)
    assert policy.org_settings("acme").daily_budget_usd == 50


def test_json_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({
        "aliases": {"fast": "openai/gpt-4o-mini"},
        "tasks": {"draft": {"primary": "fast", "fallbacks": ["openai/gpt-4o"], "params": {"temperature": 0.7}}},
        "orgs": {"acme": {"rpm": 5}},
        "upstream_fallbacks": "native",
    }))
    policy = load_policy(path)
    assert policy.resolve("draft", "acme").models == ("openai/gpt-4o-mini", "openai/gpt-4o")
    assert policy.org_settings("acme").rpm == 5
    assert policy.document.upstream_fallbacks == "native"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "{}", "null\n"])
def test_empty_file_is_the_default_policy(text: str) -> None:
    policy = parse_policy(text, "empty.yaml")
    document = policy.document
    assert (document.tasks, document.aliases, document.orgs) == ({}, {}, {})
    assert (document.retry.max_attempts, document.circuit_breaker.cooldown_s, document.timeouts.total_s) == (3, 30, 600)
    assert document.upstream_fallbacks == "gateway"
    assert policy.org_settings("anyone").max_completion_tokens == 4096
    with pytest.raises(InvalidRequestError):
        policy.resolve("planner", "anyone")


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.file == str(path)
    assert info.value.problem.startswith("cannot read policy file:")


def test_errors_carry_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tasks:\n  planner:\n    primary: openai/gpt-5\n    max_cost_usd: -1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: tasks.planner.max_cost_usd: must be > 0, got -1 (line 4)"
