"""The `GET /v1/models` filters: which catalogue entries a caller asked to see.

Names follow OpenRouter's own `/models` query (`supported_parameters`, `output_modalities`, `input_modalities`),
so a client written against OpenRouter filters the same way here. Lists are comma-separated (or the parameter
repeated) and a model must have every listed item. Prices are USD per million tokens, as OpenRouter's own
`max_price` filters and provider preferences take them; a model without a known price (routers, `-1`) is left
out when a price bound is given, because nothing says it would stay under it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from gateway.errors import InvalidRequestError

PER_MILLION = 1_000_000
ALL_MODALITIES = "all"


def _items(query: QueryParams, name: str) -> frozenset[str]:
    return frozenset(item.strip().lower() for raw in query.getlist(name) for item in raw.split(",") if item.strip())


def _number(query: QueryParams, name: str) -> float | None:
    raw = query.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidRequestError(f"'{name}' must be a non-negative number, got {raw!r}", param=name)
    return value


def _strings(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(item).lower() for item in value)


def _per_million(pricing: object, key: str) -> float | None:
    if not isinstance(pricing, Mapping):
        return None
    try:
        value = float(pricing.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    # Rounded: 0.00000015 × 1e6 is 0.15000000000000002 in floats, which must not exceed a bound of 0.15.
    return round(value * PER_MILLION, 9) if value >= 0 else None


@dataclass(frozen=True)
class ModelFilter:
    supported_parameters: frozenset[str] = frozenset()
    input_modalities: frozenset[str] = frozenset()
    output_modalities: frozenset[str] = frozenset()
    max_prompt_price: float | None = None  # USD per million tokens
    max_completion_price: float | None = None
    min_context_length: float | None = None

    @classmethod
    def from_query(cls, query: QueryParams) -> ModelFilter:
        output = _items(query, "output_modalities")
        return cls(
            supported_parameters=_items(query, "supported_parameters"),
            input_modalities=_items(query, "input_modalities") - {ALL_MODALITIES},
            output_modalities=frozenset() if ALL_MODALITIES in output else output,
            max_prompt_price=_number(query, "max_prompt_price"),
            max_completion_price=_number(query, "max_completion_price"),
            min_context_length=_number(query, "min_context_length"),
        )

    @property
    def empty(self) -> bool:
        return self == ModelFilter()

    def matches(self, model: Mapping[str, Any]) -> bool:
        if self.supported_parameters and not self.supported_parameters <= _strings(model.get("supported_parameters")):
            return False
        architecture = model.get("architecture")
        architecture = architecture if isinstance(architecture, Mapping) else {}
        if self.input_modalities and not self.input_modalities <= _strings(architecture.get("input_modalities")):
            return False
        if self.output_modalities and not self.output_modalities <= _strings(architecture.get("output_modalities")):
            return False
        if self.min_context_length is not None:
            context = model.get("context_length")
            if not isinstance(context, (int, float)) or context < self.min_context_length:
                return False
        bounds = (("prompt", self.max_prompt_price), ("completion", self.max_completion_price))
        for key, bound in bounds:
            if bound is not None:
                price = _per_million(model.get("pricing"), key)
                if price is None or price > bound:
                    return False
        return True
