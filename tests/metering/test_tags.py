from __future__ import annotations

from gateway.metering import parse_tags
from gateway.metering.tags import MAX_KEY_CHARS, MAX_TAGS, MAX_VALUE_CHARS


def test_metadata_and_header_merge_with_header_winning() -> None:
    tags = parse_tags({"team": "search", "run": "1"}, "run=2, env = prod ,broken,=nokey")
    assert tags == {"team": "search", "run": "2", "env": "prod"}


def test_metadata_scalars_become_text_and_nested_values_are_dropped() -> None:
    assert parse_tags({"n": 3, "ok": True, "x": 1.5, "deep": {"a": 1}, "none": None, 7: "int-key"}, None) == {
        "n": "3", "ok": "true", "x": "1.5"}


def test_non_mapping_metadata_is_ignored() -> None:
    assert parse_tags(["a", "b"], None) == {}
    assert parse_tags("a=b", None) == {}


def test_at_most_sixteen_pairs() -> None:
    metadata = {f"k{i}": "v" for i in range(MAX_TAGS + 4)}
    tags = parse_tags(metadata, "extra=1,k0=override")
    assert len(tags) == MAX_TAGS
    assert "extra" not in tags
    assert tags["k0"] == "override"  # replacing a kept key does not need a free slot


def test_long_keys_are_dropped_and_long_values_cut() -> None:
    long_key = "k" * (MAX_KEY_CHARS + 1)
    exact_key = "k" * MAX_KEY_CHARS
    tags = parse_tags({long_key: "v", exact_key: "x" * (MAX_VALUE_CHARS + 100)}, None)
    assert list(tags) == [exact_key]
    assert len(tags[exact_key]) == MAX_VALUE_CHARS


def test_values_may_contain_equals_signs() -> None:
    assert parse_tags(None, "query=a=b") == {"query": "a=b"}
