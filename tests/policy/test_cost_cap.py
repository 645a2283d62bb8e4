from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.errors import InvalidRequestError
from gateway.policy import fit_max_tokens


def test_max_tokens_is_clamped_to_what_the_cap_affords() -> None:
    # 1000 prompt tokens at $1/M = $0.001; the remaining $0.499 buys 49,900 tokens at $10/M.
    assert fit_max_tokens(max_cost_usd=0.5, prompt_tokens=1000, prompt_price=0.000001, completion_price=0.00001,
                          requested=None, model_cap=None) == 49_900


def test_exact_fit_is_not_lost_to_float_rounding() -> None:
    assert 0.5 / 0.00001 < 50_000  # the naive float division would floor to 49,999
    assert fit_max_tokens(max_cost_usd=0.5, prompt_tokens=0, prompt_price=0.000001, completion_price=0.00001,
                          requested=None, model_cap=None) == 50_000


def test_smaller_requested_value_wins() -> None:
    assert fit_max_tokens(max_cost_usd=0.5, prompt_tokens=1000, prompt_price=0.000001, completion_price=0.00001,
                          requested=256, model_cap=None) == 256


def test_larger_requested_value_is_clamped() -> None:
    assert fit_max_tokens(max_cost_usd=0.5, prompt_tokens=1000, prompt_price=0.000001, completion_price=0.00001,
                          requested=100_000, model_cap=None) == 49_900


def test_model_cap_wins_when_smallest() -> None:
    assert fit_max_tokens(max_cost_usd=0.5, prompt_tokens=1000, prompt_price=0.000001, completion_price=0.00001,
                          requested=20_000, model_cap=16_384) == 16_384


@pytest.mark.parametrize(
    ("cap", "prompt", "prompt_price", "completion_price"),
    [(0.25, 1234, 0.000003, 0.000015), (0.05, 8000, 0.00000027, 0.0000011), (1.0, 1, 0.00000125, 0.00001)],
)
def test_result_is_the_largest_that_fits(cap: float, prompt: int, prompt_price: float, completion_price: float) -> None:
    tokens = fit_max_tokens(max_cost_usd=cap, prompt_tokens=prompt, prompt_price=prompt_price,
                            completion_price=completion_price, requested=None, model_cap=None)
    assert tokens is not None

    def worst(n: int) -> Decimal:
        return prompt * Decimal(str(prompt_price)) + n * Decimal(str(completion_price))

    assert worst(tokens) <= Decimal(str(cap)) < worst(tokens + 1)


def test_prompt_alone_over_the_cap_is_rejected() -> None:
    with pytest.raises(InvalidRequestError) as info:
        fit_max_tokens(max_cost_usd=0.5, prompt_tokens=600_000, prompt_price=0.000001, completion_price=0.00001,
                       requested=None, model_cap=None)
    error = info.value
    assert (error.status, error.code, error.param) == (400, "max_cost_exceeded", "messages")
    assert "600000 tokens" in error.message and "$0.6000" in error.message and "$0.5000" in error.message


def test_prompt_leaving_less_than_one_completion_token_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="leaves no room"):
        fit_max_tokens(max_cost_usd=0.5, prompt_tokens=499_995, prompt_price=0.000001, completion_price=0.00001,
                       requested=None, model_cap=None)


def test_free_completion_is_bounded_only_by_requested_and_model_cap() -> None:
    kwargs = {"max_cost_usd": 0.5, "prompt_tokens": 10, "prompt_price": 0.0, "completion_price": 0.0}
    assert fit_max_tokens(**kwargs, requested=None, model_cap=None) is None
    assert fit_max_tokens(**kwargs, requested=None, model_cap=8192) == 8192
    assert fit_max_tokens(**kwargs, requested=300, model_cap=8192) == 300


def test_free_completion_still_rejects_a_prompt_over_the_cap() -> None:
    with pytest.raises(InvalidRequestError, match="cost cap"):
        fit_max_tokens(max_cost_usd=0.01, prompt_tokens=20_000, prompt_price=0.000001, completion_price=0.0,
                       requested=None, model_cap=None)
