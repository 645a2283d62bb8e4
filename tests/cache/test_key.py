"""The cache key covers what changes the answer and nothing that identifies the caller."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from redis.crc import key_slot

from gateway.cache import CACHE_KEY_FIELDS, EXCLUDED_FIELDS, cache_key, is_deterministic

BODY: dict[str, Any] = {
    "model": "z-ai/glm-4.5",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0,
    "max_tokens": 64,
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]


def key(body: dict[str, Any], org: str = "acme", endpoint: str = "chat") -> str:
    return cache_key(org=org, endpoint=endpoint, body=body)


def test_key_shape_puts_the_org_in_a_hash_tag() -> None:
    value = key(BODY)
    assert re.fullmatch(r"gw:\{acme\}:cache:[0-9a-f]{64}", value)
    assert key_slot(value.encode()) == key_slot(b"{acme}")


def test_key_is_stable_under_key_order_at_every_depth() -> None:
    reordered = {
        "max_tokens": 64,
        "temperature": 0,
        "messages": [{"content": "hi", "role": "user"}],
        "model": "z-ai/glm-4.5",
    }
    assert key(reordered) == key(BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "openai/gpt-4o"},
        {"messages": [{"role": "user", "content": "hello"}]},
        {"temperature": 0.7},
        {"tools": TOOLS},
        {"sim": {"latency_ms": 5}},
        {"seed": 7},
        {"response_format": {"type": "json_object"}},
        {"a_field_nobody_listed": 1},
    ],
)
def test_key_changes_with_anything_that_changes_the_answer(change: dict[str, Any]) -> None:
    assert key({**BODY, **change}) != key(BODY)


def test_key_differs_by_org_and_by_endpoint() -> None:
    assert key(BODY, org="acme") != key(BODY, org="globex")
    assert key(BODY, endpoint="chat") != key(BODY, endpoint="responses")


@pytest.mark.parametrize(
    "delivery",
    [
        {"stream": True},
        {"stream": False},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"user": "end-user-42"},
        {"metadata": {"trace": "abc"}},
        {"store": True},
    ],
)
def test_delivery_and_bookkeeping_fields_share_the_entry(delivery: dict[str, Any]) -> None:
    assert key({**BODY, **delivery}) == key(BODY)


def test_equivalent_spellings_share_the_entry() -> None:
    assert key({**BODY, "temperature": 0.0}) == key(BODY)
    assert key({**BODY, "tools": None}) == key(BODY)
    # ...but a real difference in a float is kept.
    assert key({**BODY, "top_p": 0.5}) != key({**BODY, "top_p": 0.25})


def test_key_takes_no_headers_so_no_token_can_reach_it() -> None:
    assert list(inspect.signature(cache_key).parameters) == ["org", "endpoint", "body"]
    token = "gw_live_sk_0123456789abcdef"
    # Even a token pasted into an excluded field leaves no trace in the key.
    assert token not in key({**BODY, "user": token})
    assert key({**BODY, "user": token}) == key(BODY)


def test_known_fields_and_exclusions_do_not_overlap() -> None:
    assert not CACHE_KEY_FIELDS & EXCLUDED_FIELDS
    assert {"model", "messages", "tools", "temperature", "seed", "sim"} <= CACHE_KEY_FIELDS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"temperature": 0}, True),
        ({"temperature": 0.0}, True),
        ({"seed": 42}, True),
        ({"temperature": 0.9, "seed": 0}, True),
        ({}, False),
        ({"temperature": 0.2}, False),
        ({"temperature": False}, False),
        ({"seed": "42"}, False),
        ({"seed": 4.2}, False),
        ({"seed": True}, False),
        ({"temperature": 0, "n": 3}, False),
        ({"temperature": 0, "n": 3, "seed": 1}, True),
        ({"temperature": 0, "n": 1}, True),
    ],
)
def test_determinism(body: dict[str, Any], expected: bool) -> None:
    assert is_deterministic(body) is expected
