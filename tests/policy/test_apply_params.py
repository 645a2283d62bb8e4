from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from gateway.policy import Policy, Route
from tests.policy.samples import sample_policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return sample_policy()


def _apply(policy: Policy, body: dict[str, Any], model: str, org: str = "someone") -> dict[str, Any]:
    route = policy.resolve(model, org)
    policy.apply_params(body, route)
    return body


def test_task_params_fill_what_the_client_did_not_set(policy: Policy) -> None:
    body = _apply(policy, {"model": "draft", "messages": [{"role": "user", "content": "hi"}]}, "draft")
    assert body == {
        "model": "deepseek/deepseek-chat-v3.1",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.8,
        "top_p": 0.9,
    }


def test_client_values_win_over_unpinned_params(policy: Policy) -> None:
    body = _apply(policy, {"model": "draft", "temperature": 0.1}, "draft")
    assert body["temperature"] == 0.1
    assert body["top_p"] == 0.9


def test_null_counts_as_not_set(policy: Policy) -> None:
    body = _apply(policy, {"model": "draft", "temperature": None}, "draft")
    assert body["temperature"] == 0.8


def test_pinned_params_win_over_the_client(policy: Policy) -> None:
    body = _apply(policy, {"model": "planner", "temperature": 1.5, "max_tokens": 50}, "planner")
    assert body["temperature"] == 0.2  # pinned
    assert body["max_tokens"] == 50  # not pinned: the client's value stands
    assert body["model"] == "openai/gpt-5"


def test_max_completion_tokens_from_the_client_counts_as_max_tokens(policy: Policy) -> None:
    body = _apply(policy, {"model": "planner", "max_completion_tokens": 100}, "planner")
    assert body["max_completion_tokens"] == 100
    assert "max_tokens" not in body


def test_pinned_max_tokens_replaces_either_client_spelling(policy: Policy) -> None:
    route = Route(requested="t", task="t", models=("openai/gpt-4o",), params=MappingProxyType({"max_tokens": 300}),
                  pinned=frozenset({"max_tokens"}))
    body: dict[str, Any] = {"model": "t", "max_completion_tokens": 9000}
    policy.apply_params(body, route)
    assert body == {"model": "openai/gpt-4o", "max_tokens": 300}


def test_pinned_list_param_is_copied_not_shared(policy: Policy) -> None:
    body = _apply(policy, {"model": "image", "modalities": ["text"]}, "image")
    assert body["modalities"] == ["image", "text"]
    body["modalities"].append("audio")
    assert policy.resolve("image", "someone").params["modalities"] == ["image", "text"]


def test_model_is_set_to_the_resolved_primary_for_ids_and_aliases(policy: Policy) -> None:
    requested = "openrouter/openai/gpt-4o:nitro"
    body = _apply(policy, {"model": requested, "temperature": 2}, requested)
    assert body == {"model": "openai/gpt-4o:nitro", "temperature": 2}
    assert _apply(policy, {"model": "fast"}, "fast") == {"model": "openai/gpt-4o-mini"}


def test_org_override_params_apply(policy: Policy) -> None:
    body = _apply(policy, {"model": "planner", "temperature": 1.5}, "planner", org="acme")
    assert body == {"model": "anthropic/claude-sonnet-4.5", "temperature": 1.5, "max_tokens": 1000}
