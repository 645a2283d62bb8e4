"""The context check: refuse only prompts that cannot fit, clamp or refuse an oversized max_tokens."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.catalogue import CatalogueSnapshot
from gateway.errors import InvalidRequestError
from gateway.policy.context import context_length, enforce_context, prompt_text_tokens
from gateway.policy.schema import ContextPolicy

CHAT_KEYS = ("max_completion_tokens", "max_tokens")
SNAPSHOT = CatalogueSnapshot(
    models={
        "openai/gpt-4o-mini": {"id": "openai/gpt-4o-mini", "context_length": 128_000},
        "google/gemini-2.5-pro": {"id": "google/gemini-2.5-pro", "context_length": 1_048_576},
        "odd/no-context": {"id": "odd/no-context", "context_length": None, "top_provider": {"context_length": 8192}},
    },
    openai_list=b"", fetched_at=0.0,
)


def _chat(prompt_chars: int, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "x" * prompt_chars}], **extra}


def _enforce(body: dict[str, Any], models: tuple[str, ...] = ("openai/gpt-4o-mini",), **policy: Any) -> None:
    enforce_context(body, keys=CHAT_KEYS, models=models, snapshot=SNAPSHOT, policy=ContextPolicy(**policy))


def test_the_issues_case_is_refused_in_openais_shape() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _enforce(_chat(150_000 * 4))
    error = caught.value
    assert (error.status, error.type, error.code, error.param) == (400, "invalid_request_error",
                                                                   "context_length_exceeded", "messages")
    assert "maximum context length is 128000 tokens" in error.message
    assert set(orjson.loads(error.body())["error"]) == {"message", "type", "param", "code"}


def test_the_margin_never_refuses_what_may_fit() -> None:
    # 141,799 counted tokens: over the context, but within 10 % + 1000 of it, so dense text could still fit.
    _enforce(_chat(141_799 * 4))
    with pytest.raises(InvalidRequestError):
        _enforce(_chat(141_801 * 4))


def test_media_count_zero_and_only_text_is_counted() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 2_000_000}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd" * 10}, image] * 50}]}
    assert prompt_text_tokens(body) == 500
    _enforce(body)
    tool_call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "y" * 400}}
    assert prompt_text_tokens({"messages": [{"role": "assistant", "tool_calls": [tool_call]}]}) == 100
    assert prompt_text_tokens({"input": "z" * 40, "instructions": "w" * 40}) == 20  # Responses
    assert prompt_text_tokens({"input": [{"role": "user", "content": [{"type": "input_text", "text": "q" * 8}]}]}) == 2


def test_a_fallback_with_a_larger_context_keeps_the_request() -> None:
    _enforce(_chat(300_000 * 4), models=("openai/gpt-4o-mini", "google/gemini-2.5-pro"))
    assert context_length(SNAPSHOT, ("odd/no-context",)) == 8192
    assert context_length(SNAPSHOT, ("unknown/model",)) is None
    _enforce(_chat(10_000_000), models=("unknown/model",))  # nothing known: nothing checked


def test_max_tokens_is_clamped_by_default() -> None:
    body = _chat(100_000 * 4, max_tokens=50_000)
    _enforce(body)
    assert body["max_tokens"] == 28_000
    fits = _chat(100_000 * 4, max_completion_tokens=28_000, max_tokens=99_999)
    _enforce(fits)
    assert fits["max_completion_tokens"] == 28_000 and fits["max_tokens"] == 99_999  # the first key is the one
    # When the count leaves nothing to clamp to, the request goes as it is (the count may be over).
    over = _chat(130_000 * 4, max_tokens=10)
    _enforce(over)
    assert over["max_tokens"] == 10


def test_max_tokens_overflow_refused_or_passed_as_the_policy_says() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _enforce(_chat(100_000 * 4, max_tokens=50_000), overflow="refuse")
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "max_tokens"
    assert "(100000 in the messages, 50000 in the completion)" in caught.value.message
    passed = _chat(100_000 * 4, max_tokens=50_000)
    _enforce(passed, overflow="pass")
    assert passed["max_tokens"] == 50_000


def test_disabled_checks_nothing() -> None:
    _enforce(_chat(1_000_000 * 4, max_tokens=10), enabled=False)


def test_policy_schema() -> None:
    assert ContextPolicy().model_dump() == {"enabled": True, "margin": 1.1, "slack_tokens": 1000, "overflow": "clamp"}
    with pytest.raises(ValueError):
        ContextPolicy(margin=0.9)
    with pytest.raises(ValueError):
        ContextPolicy(overflow="truncate")  # type: ignore[arg-type]
