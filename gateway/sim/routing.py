"""Which model and which fake provider answer: variants, the auto router and provider preferences.

Default provider choice is the cheapest endpoint (OpenRouter weights by inverse square of price; picking the
minimum keeps the simulator deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.sim.catalogue import AUTO_ROUTES
from gateway.sim.errors import SimError, invalid_model_error, no_endpoints_error
from gateway.sim.registry import Endpoint, ModelSpec, Registry

VARIANTS = frozenset({"free", "nitro", "floor", "online", "thinking", "exacto", "extended"})
AUTO_ROUTER = "openrouter/auto"
LONG_PROMPT_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved model attempt: the spec to run, the id to report and the variant's effect."""

    spec: ModelSpec
    reported_model: str
    variant: str | None


def resolve(registry: Registry, slug: str, body: dict[str, Any], prompt_tokens: int) -> Target:
    """Raise 400 for an unknown id and 404 for a variant the model lacks."""
    if slug == AUTO_ROUTER:
        chosen = _auto_choice(body, prompt_tokens)
        return Target(registry.models[chosen], chosen, None)
    base, _, variant = slug.partition(":")
    if variant and variant not in VARIANTS:
        raise invalid_model_error(slug)
    if variant == "free":
        spec = registry.get(slug)
        if spec is None:
            if registry.get(base) is None:
                raise invalid_model_error(slug)
            raise no_endpoints_error(slug)
        return Target(spec, slug, "free")
    spec = registry.get(base)
    if spec is None or spec.id == AUTO_ROUTER:
        raise invalid_model_error(slug)
    return Target(spec, slug, variant or None)


def _auto_choice(body: dict[str, Any], prompt_tokens: int) -> str:
    needs = {"default"}
    if "image" in (body.get("modalities") or ()):
        needs.add("image_output")
    if body.get("tools"):
        needs.add("tools")
    if prompt_tokens > LONG_PROMPT_TOKENS:
        needs.add("long")
    return next(model for need, model in AUTO_ROUTES if need in needs)


def _matches(endpoint: Endpoint, names: list[Any]) -> bool:
    """A base slug (`deepinfra`) matches all its tagged endpoints (`deepinfra/turbo`); names are case-insensitive."""
    wanted = {str(name).lower() for name in names}
    return (endpoint.slug in wanted or endpoint.tag in wanted or endpoint.name.lower() in wanted
            or endpoint.tag.split("/")[0] in wanted)


def _within_price(endpoint: Endpoint, max_price: dict[str, Any]) -> bool:
    """`max_price` is USD per million tokens."""
    limits = (("prompt", endpoint.prompt_price), ("completion", endpoint.completion_price))
    return all(max_price.get(key) is None or price * 1_000_000 <= float(max_price[key]) for key, price in limits)


def _sort_key(mode: str) -> Any:
    if mode == "throughput":
        return lambda e: -e.throughput
    if mode == "latency":
        return lambda e: e.latency_s
    if mode == "exacto":
        return lambda e: (-e.uptime, e.prompt_price + e.completion_price)
    return lambda e: e.prompt_price + e.completion_price


_VARIANT_SORT = {"nitro": "throughput", "floor": "price", "exacto": "exacto"}


def select_endpoints(target: Target, body: dict[str, Any]) -> list[Endpoint]:
    """The endpoints to try, in order, after the request's provider preferences; 404 if none remain."""
    prefs: dict[str, Any] = body.get("provider") or {}
    candidates = list(target.spec.endpoints)
    if prefs.get("only"):
        candidates = [e for e in candidates if _matches(e, prefs["only"])]
    if prefs.get("ignore"):
        candidates = [e for e in candidates if not _matches(e, prefs["ignore"])]
    if prefs.get("quantizations"):
        candidates = [e for e in candidates if e.quantization in prefs["quantizations"]]
    if isinstance(prefs.get("max_price"), dict):
        candidates = [e for e in candidates if _within_price(e, prefs["max_price"])]
    if prefs.get("require_parameters"):
        used = {key for key in body if key in _SAMPLING_AND_FEATURE_PARAMS}
        if not used.issubset(target.spec.supported_parameters):
            candidates = []
    sort = prefs.get("sort")
    mode = sort.get("by") if isinstance(sort, dict) else sort
    candidates.sort(key=_sort_key(mode or _VARIANT_SORT.get(target.variant or "", "price")))
    order = prefs.get("order")
    if order:
        ranked = [e for name in order for e in candidates if _matches(e, [name])]
        ranked = list(dict.fromkeys(ranked))
        rest = [] if prefs.get("allow_fallbacks") is False else [e for e in candidates if e not in ranked]
        candidates = ranked + rest
    if not candidates:
        raise no_endpoints_error(target.reported_model, filtered=bool(target.spec.endpoints))
    return candidates


_SAMPLING_AND_FEATURE_PARAMS = frozenset({
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "logit_bias", "logprobs", "top_logprobs", "seed", "stop", "response_format", "tools",
    "tool_choice", "reasoning", "web_search_options", "verbosity",
})


def check_modalities(target: Target, body: dict[str, Any]) -> None:
    modalities = body.get("modalities")
    if modalities and "image" in modalities and "image" not in target.spec.output_modalities:
        raise SimError(400, f"{target.reported_model} does not support image output; remove \"image\" from "
                            "modalities", {"error_type": "invalid_request"})
