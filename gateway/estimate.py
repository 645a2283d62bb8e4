"""Cheap upper-bound estimates of a request's tokens and cost, for reservations before the real usage is known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.catalogue import CatalogueSnapshot, ModelPrice
from gateway.errors import PermissionDeniedError, ServiceUnavailableError
from gateway.policy.compiler import OrgSettings
from gateway.policy.cost_cap import fit_max_tokens
from gateway.policy.policy import Route

# ~4 characters per token for English text in common tokenizers; rounding up keeps it an upper-ish bound.
CHARS_PER_TOKEN = 4
# Vision models bill an image in the high hundreds to low thousands of tokens; reserve the high end.
IMAGE_PART_TOKENS = 1500
MESSAGE_OVERHEAD_TOKENS = 4


def _text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _part_tokens(part: Mapping[str, Any]) -> int:
    kind = part.get("type")
    if kind == "text":
        return _text_tokens(str(part.get("text") or ""))
    if kind in ("image_url", "input_image", "file", "input_audio", "video_url"):
        return IMAGE_PART_TOKENS
    return _text_tokens(str(part))


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Text length / 4 per message plus a flat allowance per media part; tools count by their JSON size."""
    total = 0
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        total += MESSAGE_OVERHEAD_TOKENS
        content = message.get("content")
        if isinstance(content, str):
            total += _text_tokens(content)
        elif isinstance(content, Sequence):
            total += sum(_part_tokens(part) for part in content if isinstance(part, Mapping))
        if message.get("tool_calls"):
            total += _text_tokens(str(message["tool_calls"]))
    if body.get("tools"):
        total += _text_tokens(str(body["tools"]))
    return total


@dataclass(frozen=True, slots=True)
class CostEstimate:
    prompt_tokens: int
    completion_tokens: int
    price: ModelPrice

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def worst_case_usd(self) -> float:
        return self.prompt_tokens * self.price.prompt + self.completion_tokens * self.price.completion

    def cost_of(self, completion_chars: int) -> float:
        """What a cut-short answer of `completion_chars` characters probably cost."""
        completion_tokens = -(-completion_chars // CHARS_PER_TOKEN)
        return self.prompt_tokens * self.price.prompt + completion_tokens * self.price.completion


def route_price(snapshot: CatalogueSnapshot | None, models: Sequence[str], org: OrgSettings) -> ModelPrice:
    """The dearest price among the route's models: any of them may end up answering.

    A model the catalogue does not price (OpenRouter's routers, `~` aliases, missing pricing) may be served by
    any model, so it is priced at the ceiling (never at zero), or refused when the org's policy says so.
    """
    listed = [snapshot.price(model) for model in models] if snapshot is not None else [None] * len(models)
    prices = [price for price in listed if price is not None]
    unpriced = [model for model, price in zip(models, listed, strict=True) if price is None]
    if unpriced:
        if org.unpriced_models == "refuse":
            raise PermissionDeniedError(
                f"The model '{unpriced[0]}' has no known price, and this organization's policy refuses unpriced "
                "models; name a specific model instead.", param="model", code="unpriced_model",
            )
        ceiling = snapshot.ceiling if snapshot is not None else None
        if ceiling is None:
            raise ServiceUnavailableError(
                "Model prices are not known yet (OpenRouter's catalogue could not be fetched), so the call cannot "
                "be reserved against a budget; retry shortly.", code="prices_unavailable",
            )
        prices.append(ceiling)
    return ModelPrice(max(p.prompt for p in prices), max(p.completion for p in prices))


def _clamp_to_model(body: dict[str, Any], keys: Sequence[str], model_cap: int | None) -> int | None:
    """The client's completion limit, lowered to the model's maximum (in the body too, so it is what is sent)."""
    requested: int | None = None
    for key in keys:
        value = body.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            continue
        if model_cap is not None and value > model_cap:
            body[key] = value = model_cap
        if requested is None:
            requested = value
    return requested


def plan_completion(
    body: dict[str, Any],
    *,
    keys: Sequence[str],
    route: Route,
    snapshot: CatalogueSnapshot | None,
    org: OrgSettings,
    prompt_tokens: int,
    price: ModelPrice,
) -> int:
    """The completion tokens to reserve; a task's `max_cost_usd` clamps the request's limit to what fits.

    `keys` are the body fields that limit the answer, in precedence order (chat: max_completion_tokens then
    max_tokens; Responses: max_output_tokens). A limit above the model's maximum is lowered to it (OpenRouter
    would refuse it, or reserve credits for it); when the cap lowers the limit, the body is changed to say so.
    """
    model_cap = snapshot.max_output_tokens(route.models[0]) if snapshot else None
    requested = _clamp_to_model(body, keys, model_cap)
    completion = requested or min(org.max_completion_tokens, model_cap or org.max_completion_tokens)
    if route.max_cost_usd is None:
        return completion
    fitted = fit_max_tokens(max_cost_usd=route.max_cost_usd, prompt_tokens=prompt_tokens, prompt_price=price.prompt,
                            completion_price=price.completion, requested=requested, model_cap=model_cap)
    if fitted is None or fitted == requested:
        return completion
    body[next((key for key in keys if key in body), keys[-1])] = fitted
    return fitted
