from __future__ import annotations

import pytest

from gateway.metric_labels import MAX_LABEL_CHARS, OTHER, ModelLabels, safe_label

CATALOGUE = {"openai/gpt-4o-mini", "anthropic/claude-3.5-haiku", "meta-llama/llama-3.1-8b-instruct:free"}


@pytest.mark.parametrize("value", ["openai/gpt-4o-mini", "acme", "chat.completions", "x" * MAX_LABEL_CHARS])
def test_plain_values_are_kept(value: str) -> None:
    assert safe_label(value) == value


@pytest.mark.parametrize("value", [
    "", "x" * (MAX_LABEL_CHARS + 1), 'quote"s', "new\nline", "spa ce", "sk-or-v1-abcdef0123", "gwk-0123abcd",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "openai/gpt-4o:sk-or-v1-abc",
])
def test_odd_or_secret_looking_values_are_folded(value: str) -> None:
    assert safe_label(value) == OTHER


def test_models_are_limited_to_the_catalogue_and_known_variants() -> None:
    labels = ModelLabels(lambda: CATALOGUE)
    assert labels.label("openai/gpt-4o-mini") == "openai/gpt-4o-mini"
    assert labels.label("meta-llama/llama-3.1-8b-instruct:free") == "meta-llama/llama-3.1-8b-instruct:free"
    assert labels.label("openai/gpt-4o-mini:nitro") == "openai/gpt-4o-mini:nitro"
    for invented in ("openai/gpt-4o-mini:v17", "~acme/model", "openrouter/auto", "made/up", None, ""):
        assert labels.label(invented) == OTHER


def test_before_the_catalogue_is_fetched_every_model_is_other() -> None:
    assert ModelLabels(lambda: None).label("openai/gpt-4o-mini") == OTHER
    assert ModelLabels().label("openai/gpt-4o-mini:v17") == "openai/gpt-4o-mini:v17"  # no catalogue: charset only
