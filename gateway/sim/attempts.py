"""Routing a chat request across its models: credit pre-check, free limits, injected faults, fallbacks.

Each model in `[model, *models]` is one attempt. An attempt fails with an injected fault, a filtered-out
provider list, a context-length or moderation error, or a free-model limit; the next model is then tried and
the last error is returned when every attempt failed (OPENROUTER.md §1.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gateway.sim.catalogue import MODERATION_TRIGGERS
from gateway.sim.errors import (
    DELIVERY_KINDS,
    SimError,
    context_length_error,
    credits_error,
    exhausted_credits_error,
    fault_error,
    free_limit_error,
    invalid_model_error,
    moderation_error,
)
from gateway.sim.faults import Fault
from gateway.sim.knobs import Knobs
from gateway.sim.registry import Endpoint
from gateway.sim.routing import AUTO_ROUTER, VARIANTS, Target, check_modalities, resolve, select_endpoints
from gateway.sim.state import SimState

DEFAULT_MODEL = "openai/gpt-4o-mini"


@dataclass(slots=True)
class Attempt:
    """The winning attempt, plus every attempt's outcome for `/generation`'s `provider_responses`."""

    target: Target
    endpoint: Endpoint
    delivery_fault: Fault | None
    provider_responses: list[dict[str, Any]] = field(default_factory=list)


def requested_models(body: dict[str, Any]) -> list[str]:
    slugs = ([body["model"]] if isinstance(body.get("model"), str) and body["model"] else []) + list(
        body.get("models") or ())
    return list(dict.fromkeys(slugs)) or [DEFAULT_MODEL]


def check_known(state: SimState, slugs: list[str]) -> None:
    """An unknown id anywhere in the list is a 400 before any routing happens."""
    for slug in slugs:
        base, _, variant = slug.partition(":")
        if slug == AUTO_ROUTER:
            continue
        if state.registry.get(base) is None or (variant and variant not in VARIANTS) or base == AUTO_ROUTER:
            raise invalid_model_error(slug)


def check_credits(state: SimState, body: dict[str, Any], target: Target, prompt_tokens: int) -> None:
    """402 when the balance cannot pay the worst case: prompt plus max_tokens (or the model's max output)."""
    balance = state.ledger.balance
    if balance <= 0:
        raise exhausted_credits_error()
    if target.spec.free or not target.spec.endpoints:
        return
    cheapest = min(target.spec.endpoints, key=lambda e: e.prompt_price + e.completion_price)
    requested = body.get("max_completion_tokens") or body.get("max_tokens") or target.spec.max_output
    prompt_cost = prompt_tokens * cheapest.prompt_price
    if prompt_cost + requested * cheapest.completion_price <= balance:
        return
    affordable = max(0, math.floor((balance - prompt_cost) / cheapest.completion_price))
    raise credits_error(int(requested), affordable)


def _pick_fault(state: SimState, knobs: Knobs, target: Target) -> Fault | None:
    model = target.reported_model
    if knobs.error is not None and (knobs.fail_models is None or model in knobs.fail_models
                                    or target.spec.id in knobs.fail_models):
        return Fault(knobs.error, knobs.retry_after, knobs.error_after_tokens)
    scripted = state.faults.take(model)
    if scripted is None and model != target.spec.id:
        scripted = state.faults.take(target.spec.id)
    if scripted is not None:
        return scripted
    return state.faults.roll(state.config.fault_rates)


def _try(state: SimState, body: dict[str, Any], knobs: Knobs, target: Target, prompt_tokens: int,
         flagged_text: str) -> tuple[Endpoint, Fault | None]:
    check_modalities(target, body)
    endpoint = select_endpoints(target, body)[0]
    if target.spec.free:
        refusal = state.ledger.admit_free(state.config.free_rpm, state.config.free_rpd)
        if refusal is not None:
            raise free_limit_error(*refusal)
    fault = _pick_fault(state, knobs, target)
    if fault is not None and fault.error not in DELIVERY_KINDS:
        raise fault_error(fault.error, target.reported_model, endpoint.name, fault.retry_after)
    if prompt_tokens > target.spec.context_length:
        raise context_length_error(target.reported_model, target.spec.context_length, prompt_tokens)
    if target.spec.moderated and any(word in flagged_text for word in MODERATION_TRIGGERS):
        raise moderation_error(target.reported_model, endpoint.name, flagged_text)
    return endpoint, fault


def route(state: SimState, body: dict[str, Any], knobs: Knobs, slugs: list[str], prompt_tokens: int,
          flagged_text: str) -> Attempt:
    responses: list[dict[str, Any]] = []
    last_error: SimError | None = None
    for slug in slugs:
        try:
            target = resolve(state.registry, slug, body, prompt_tokens)
        except SimError as error:
            responses.append({"model_permaslug": slug, "provider_name": None, "status": error.status})
            last_error = error
            continue
        state.ledger.count_attempt(target.reported_model)
        try:
            endpoint, fault = _try(state, body, knobs, target, prompt_tokens, flagged_text)
        except SimError as error:
            provider = (error.metadata or {}).get("provider_name") if error.metadata else None
            responses.append({"model_permaslug": target.spec.id, "provider_name": provider, "status": error.status})
            last_error = error
            continue
        responses.append({"model_permaslug": target.spec.id, "provider_name": endpoint.name, "status": 200,
                          "endpoint_id": f"{endpoint.slug}:{target.spec.id}", "is_byok": False,
                          "latency": int(endpoint.latency_s * 1000)})
        return Attempt(target, endpoint, fault, responses)
    assert last_error is not None  # slugs is never empty
    raise last_error
