"""Size max_tokens so a request's worst-case cost stays within a task's max_cost_usd."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from gateway.errors import InvalidRequestError


def _decimal(value: float) -> Decimal:
    # Via str, so 0.5 / 0.00001 is exactly 50000 and not 49999.999… floored to 49999.
    return Decimal(str(value))


def _usd(amount: Decimal) -> str:
    return f"${float(amount):.4f}"


def fit_max_tokens(
    *,
    max_cost_usd: float,
    prompt_tokens: int,
    prompt_price: float,
    completion_price: float,
    requested: int | None,
    model_cap: int | None,
) -> int | None:
    """The largest max_tokens whose worst case (prompt + max_tokens completion) costs at most max_cost_usd.

    Prices are USD per token, as OpenRouter's catalogue gives them. The result is also capped by the client's
    `requested` value and the model's own limit. None only when nothing bounds it: a free completion price
    with neither a requested value nor a model cap.
    """
    cap = _decimal(max_cost_usd)
    prompt_cost = prompt_tokens * _decimal(prompt_price)
    remaining = cap - prompt_cost
    price = _decimal(completion_price)
    if price > 0:
        affordable = int((remaining / price).to_integral_value(rounding=ROUND_FLOOR)) if remaining > 0 else 0
    else:
        affordable = None if remaining >= 0 else 0
    if affordable is not None and affordable < 1:
        raise InvalidRequestError(
            f"The prompt alone (~{prompt_tokens} tokens, {_usd(prompt_cost)}) leaves no room for a completion within "
            f"the task's cost cap of {_usd(cap)}; shorten the prompt or use another task",
            param="messages",
            code="max_cost_exceeded",
        )
    limits = [limit for limit in (affordable, requested, model_cap) if limit is not None]
    return min(limits) if limits else None
