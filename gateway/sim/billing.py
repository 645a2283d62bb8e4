"""Usage objects and costs: tokens × the serving endpoint's per-token prices, 0 for `:free`.

Costs are rounded to 12 decimal places once, here, so the figure in `usage.cost`, in `/generation` and in
the ledger is the same float.
"""

from __future__ import annotations

from typing import Any

from gateway.sim.answers import Answer
from gateway.sim.registry import Endpoint

_NATIVE_FINISH = {
    "openai": {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "error": "error"},
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "error": "error"},
    "google": {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "error": "OTHER"},
}


def native_finish_reason(dialect: str, finish_reason: str) -> str:
    return _NATIVE_FINISH[dialect].get(finish_reason, finish_reason)


def costs(endpoint: Endpoint, free: bool, prompt_tokens: int, text_tokens: int, image_tokens: int
          ) -> tuple[float, float, float]:
    """(total, prompt part, completion part) in USD."""
    if free:
        return 0.0, 0.0, 0.0
    prompt_cost = round(prompt_tokens * endpoint.prompt_price, 12)
    completion_cost = round(text_tokens * endpoint.completion_price + image_tokens * endpoint.image_output_price, 12)
    return round(prompt_cost + completion_cost, 12), prompt_cost, completion_cost


def usage_document(prompt_tokens: int, reasoning_tokens: int, text_tokens: int, image_tokens: int,
                   billed: tuple[float, float, float]) -> dict[str, Any]:
    completion = text_tokens + image_tokens
    total, prompt_cost, completion_cost = billed
    return {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion,
        "cost": total, "is_byok": False, "prompt_tokens_details": {"cached_tokens": 0},
        "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": prompt_cost,
                         "upstream_inference_completions_cost": completion_cost},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "image_tokens": image_tokens},
    }


def answer_usage(endpoint: Endpoint, free: bool, prompt_tokens: int, answer: Answer) -> dict[str, Any]:
    billed = costs(endpoint, free, prompt_tokens, answer.text_tokens, answer.image_tokens)
    return usage_document(prompt_tokens, len(answer.reasoning), answer.text_tokens, answer.image_tokens, billed)
