"""Retry settings per class in the policy, globally and per task (a task's keys replace the global ones)."""

from __future__ import annotations

import pytest

from gateway.policy.errors import PolicyError
from gateway.policy.policy import Policy
from gateway.policy.retry import settings_for
from gateway.policy.schema import PolicyDocument

DOCUMENT = {
    "retry": {"max_attempts": 3, "rate_limited": {"max_attempts": 10, "max_delay_s": 60, "retry_after_cap_s": 60}},
    "tasks": {
        "batch": {"primary": "openai/gpt-4o-mini", "retry": {"server_errors": {"max_attempts": 5}}},
        "interactive": {"primary": "openai/gpt-4o", "retry": {"max_attempts": 1}},
        "plain": {"primary": "openai/gpt-4o"},
    },
}


def test_class_settings_inherit_what_they_leave_out() -> None:
    retry = PolicyDocument.model_validate(DOCUMENT).retry
    limited = settings_for(retry, "rate_limited")
    assert (limited.max_attempts, limited.max_delay_s, limited.retry_after_cap_s) == (10, 60.0, 60.0)
    assert limited.base_delay_s == retry.base_delay_s
    server = settings_for(retry, "server_errors")
    assert (server.max_attempts, server.max_delay_s, server.retry_after_cap_s) == (3, 8.0, 10.0)


def test_tasks_carry_their_merged_retry_on_the_route() -> None:
    policy = Policy(PolicyDocument.model_validate(DOCUMENT))
    batch = policy.resolve("batch", "acme").retry
    assert batch is not None
    assert settings_for(batch, "server_errors").max_attempts == 5
    assert settings_for(batch, "rate_limited").max_attempts == 10  # the global class section is kept
    interactive = policy.resolve("interactive", "acme").retry
    assert interactive is not None and settings_for(interactive, "server_errors").max_attempts == 1
    assert settings_for(interactive, "rate_limited").max_attempts == 10
    assert policy.resolve("plain", "acme").retry is None
    assert policy.resolve("openai/gpt-4o", "acme").retry is None


def test_bad_class_delays_are_reported_where_they_are() -> None:
    bad = {"retry": {"timeouts": {"base_delay_s": 9}},
           "tasks": {"t": {"primary": "openai/gpt-4o", "retry": {"rate_limited": {"max_delay_s": 0.1}}}}}
    with pytest.raises(PolicyError) as caught:
        Policy(PolicyDocument.model_validate(bad))
    text = str(caught.value)
    assert "retry.timeouts.base_delay_s" in text and "tasks.t.retry.rate_limited.base_delay_s" in text
