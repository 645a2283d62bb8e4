"""Retryability and breaker verdicts for every upstream status the gateway distinguishes."""

from __future__ import annotations

import pytest

from gateway.errors import BudgetExceededError, InvalidRequestError, UpstreamAccountError, UpstreamError
from gateway.resilience import (
    ACCOUNT_REFUSED,
    breaker_verdict,
    circuit_open_error,
    deadline_error,
    is_retryable,
)
from gateway.resilience.classify import tries_next_model
from gateway.upstream.errors import translate_error, translate_error_object

RETRYABLE = (408, 429, 500, 502, 503, 504, 524, 529)
NEVER_RETRIED = (400, 401, 402, 403, 404, 413, 422)


@pytest.mark.parametrize("status", RETRYABLE)
def test_transient_upstream_statuses_are_retried_and_count_against_the_model(status: int) -> None:
    error = translate_error_object(status, {"message": "boom"}, {})
    assert is_retryable(error)
    assert breaker_verdict(error) is False


@pytest.mark.parametrize("status", NEVER_RETRIED)
def test_client_and_account_statuses_are_never_retried(status: int) -> None:
    error = translate_error(status, b'{"error": {"code": %d, "message": "no"}}' % status, {})
    assert not is_retryable(error)


@pytest.mark.parametrize("status", (400, 403, 404, 413, 422))
def test_client_errors_count_as_successes_for_the_breaker(status: int) -> None:
    assert breaker_verdict(translate_error_object(status, {"message": "bad request"}, {})) is True


@pytest.mark.parametrize("status", (401, 402))
def test_the_gateways_own_account_refused_is_not_held_against_the_model(status: int) -> None:
    error = translate_error_object(status, {"message": "User not found."}, {})
    assert error.status == 502 and error.code == ACCOUNT_REFUSED
    assert breaker_verdict(error) is None


def test_a_502_that_is_not_an_account_problem_is_retried() -> None:
    assert is_retryable(UpstreamError("Could not reach OpenRouter"))
    assert not is_retryable(UpstreamAccountError("refused"))
    assert UpstreamAccountError("refused").code == ACCOUNT_REFUSED


def test_gateway_made_errors_are_not_upstream_failures() -> None:
    assert not is_retryable(InvalidRequestError("bad"))
    assert not is_retryable(BudgetExceededError("spent"))  # a 429 too, but the org's budget: waiting won't help
    assert not is_retryable(deadline_error()) and breaker_verdict(deadline_error()) is None
    assert breaker_verdict(circuit_open_error("m", 3)) is None


@pytest.mark.parametrize(("kind", "next_model"), [("context_length_exceeded", True), ("max_tokens_exceeded", True),
                                                  ("invalid_request", False), (None, False)])
def test_only_a_refusal_over_the_models_own_limits_tries_the_next_model(kind: str | None, next_model: bool) -> None:
    error = translate_error_object(400, {"message": "too long", "metadata": {"error_type": kind}}, {})
    assert not is_retryable(error)  # the same model would refuse again
    assert tries_next_model(error) is next_model
