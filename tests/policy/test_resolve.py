from __future__ import annotations

import re

import pytest

from gateway.errors import InvalidRequestError, PermissionDeniedError
from gateway.policy import Policy, Route
from tests.policy.samples import sample_policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return sample_policy()


def test_task_resolves_primary_then_fallbacks_with_aliases_resolved_and_duplicates_dropped(policy: Policy) -> None:
    route = policy.resolve("planner", "someone")
    assert route == Route(
        requested="planner",
        task="planner",
        models=("openai/gpt-5", "anthropic/claude-sonnet-4.5", "openai/gpt-4o"),
        params={"temperature": 0.2, "max_tokens": 4000},
        pinned=frozenset({"temperature"}),
        max_cost_usd=0.5,
        timeout_s=120,
    )


def test_route_params_cannot_be_mutated(policy: Policy) -> None:
    route = policy.resolve("planner", "someone")
    with pytest.raises(TypeError):
        route.params["temperature"] = 1.0  # type: ignore[index]


def test_alias_resolves_to_its_target(policy: Policy) -> None:
    route = policy.resolve("fast", "someone")
    assert (route.task, route.models) == (None, ("openai/gpt-4o-mini",))
    assert (dict(route.params), route.pinned) == ({}, frozenset())
    assert route.max_cost_usd is None and route.timeout_s is None


def test_alias_target_with_openrouter_prefix_is_normalised(policy: Policy) -> None:
    assert policy.resolve("smart", "someone").models == ("anthropic/claude-sonnet-4.5",)


def test_alias_with_variant_appends_the_variant(policy: Policy) -> None:
    assert policy.resolve("fast:nitro", "someone").models == ("openai/gpt-4o-mini:nitro",)


def test_alias_whose_target_has_a_variant_keeps_the_target_variant(policy: Policy) -> None:
    assert policy.resolve("turbo:floor", "someone").models == ("openai/gpt-4o:nitro",)


def test_openrouter_id_passes_through(policy: Policy) -> None:
    route = policy.resolve("mistralai/mistral-small-3.2-24b-instruct", "someone")
    assert route.models == ("mistralai/mistral-small-3.2-24b-instruct",)
    assert route.requested == "mistralai/mistral-small-3.2-24b-instruct"


def test_openrouter_prefix_is_stripped(policy: Policy) -> None:
    assert policy.resolve("openrouter/openai/gpt-4o", "someone").models == ("openai/gpt-4o",)


@pytest.mark.parametrize("router_id", ["openrouter/auto", "openrouter/free", "openrouter/auto:nitro"])
def test_openrouter_router_ids_are_kept(policy: Policy, router_id: str) -> None:
    assert policy.resolve(router_id, "someone").models == (router_id,)


@pytest.mark.parametrize("variant", ["nitro", "floor", "online", "thinking", "free", "exacto", "extended"])
def test_variant_suffixes_are_kept(policy: Policy, variant: str) -> None:
    assert policy.resolve(f"openai/gpt-4o:{variant}", "someone").models == (f"openai/gpt-4o:{variant}",)
    assert policy.resolve(f"openrouter/openai/gpt-4o:{variant}", "someone").models == (f"openai/gpt-4o:{variant}",)


def test_surrounding_whitespace_is_ignored_for_the_lookup(policy: Policy) -> None:
    route = policy.resolve(" planner ", "someone")
    assert route.task == "planner" and route.requested == " planner "


@pytest.mark.parametrize("name", ["plannr", "gpt-4o", "planner:nitro", "fast:bogus"])
def test_unknown_task_or_alias_is_400(policy: Policy, name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        policy.resolve(name, "someone")
    assert info.value.status == 400
    assert info.value.code == "unknown_task"
    assert info.value.param == "model"
    assert info.value.message == f"Unknown task or alias '{name}'"


@pytest.mark.parametrize("model", [None, "", "   "])
def test_missing_model_is_400(policy: Policy, model: str | None) -> None:
    with pytest.raises(InvalidRequestError) as info:
        policy.resolve(model, "someone")
    assert info.value.status == 400
    assert info.value.param == "model"
    assert info.value.code != "unknown_task"


@pytest.mark.parametrize("model", ["openai/gpt-5", "openai/gpt-5:nitro", "openai/gpt-5-mini", "google/gemini-2.5-pro"])
def test_denied_or_not_allowed_model_is_403(policy: Policy, model: str) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        policy.resolve(model, "acme")
    assert info.value.status == 403
    assert info.value.type == "permission_error"
    assert f"'{model}'" in info.value.message and "'acme'" in info.value.message


def test_allowed_model_passes_for_restricted_org(policy: Policy) -> None:
    assert policy.resolve("openai/gpt-4o", "acme").models == ("openai/gpt-4o",)


def test_alias_is_checked_against_its_target(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError, match=re.escape("Model 'anthropic/claude-sonnet-4.5' is not allowed")):
        policy.resolve("smart", "openai_only")
    assert policy.resolve("fast", "openai_only").models == ("openai/gpt-4o-mini",)


def test_task_not_allowed_is_403_naming_the_task(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        policy.resolve("planner", "notasks")
    assert "Task 'planner'" in info.value.message and "'notasks'" in info.value.message


def test_denied_task_is_403_even_when_star_is_allowed(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError, match="Task 'image'"):
        policy.resolve("image", "lab")
    assert policy.resolve("draft", "lab").task == "draft"


def test_deny_pattern_for_variants(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.resolve("meta-llama/llama-3.3-70b-instruct:free", "lab")
    assert policy.resolve("meta-llama/llama-3.3-70b-instruct", "lab").models == ("meta-llama/llama-3.3-70b-instruct",)


def test_disallowed_fallbacks_are_dropped(policy: Policy) -> None:
    assert policy.resolve("planner", "openai_only").models == ("openai/gpt-5", "openai/gpt-4o")


def test_disallowed_primary_is_403_naming_model_and_task(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        policy.resolve("planner", "nogpt5")
    assert info.value.message == (
        "Model 'openai/gpt-5' (primary of task 'planner') is not allowed for organization 'nogpt5'"
    )


def test_task_whose_models_are_all_disallowed_is_403(policy: Policy) -> None:
    with pytest.raises(PermissionDeniedError, match=re.escape("deepseek/deepseek-chat-v3.1")):
        policy.resolve("draft", "openai_only")


def test_per_org_task_override_is_merged_over_the_global_task(policy: Policy) -> None:
    route = policy.resolve("planner", "acme")
    # primary replaced; fallbacks inherited (gpt-5 never appears: only the primary changed, and it is denied anyway)
    assert route.models == ("anthropic/claude-sonnet-4.5", "openai/gpt-4o")
    # params merged key by key; the null removed the global temperature, and pin [] unpinned it
    assert dict(route.params) == {"max_tokens": 1000}
    assert route.pinned == frozenset()
    assert route.max_cost_usd == 0.5 and route.timeout_s == 120


def test_org_only_task_exists_only_for_that_org(policy: Policy) -> None:
    assert policy.resolve("review", "acme").models == ("openai/gpt-4o-mini",)
    with pytest.raises(InvalidRequestError, match="Unknown task or alias 'review'"):
        policy.resolve("review", "lab")


def test_org_settings_override_defaults(policy: Policy) -> None:
    acme = policy.org_settings("acme")
    assert acme.rpm == 100  # set by the org
    assert acme.tpm == 1000  # inherited
    assert acme.max_concurrent is None  # explicit null: unlimited, although the default is 50
    assert acme.daily_budget_usd == 50 and acme.monthly_budget_usd is None
    assert acme.max_completion_tokens == 2048


def test_unknown_org_gets_defaults(policy: Policy) -> None:
    other = policy.org_settings("nobody")
    assert (other.rpm, other.tpm, other.max_concurrent, other.max_completion_tokens) == (600, 1000, 50, 2048)
    assert policy.resolve("google/gemini-2.5-pro", "nobody").models == ("google/gemini-2.5-pro",)


def test_empty_policy_passes_ids_and_rejects_names() -> None:
    policy = Policy.empty()
    assert policy.resolve("openai/gpt-4o", "acme").models == ("openai/gpt-4o",)
    with pytest.raises(InvalidRequestError, match="Unknown task or alias 'planner'"):
        policy.resolve("planner", "acme")
    assert policy.org_settings("acme").rpm == 600
