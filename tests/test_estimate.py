"""Reservation prices: an unpriced model id is reserved at the ceiling, never at zero, or refused by policy."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.catalogue import CatalogueSnapshot, ModelPrice, dearest_price
from gateway.errors import PermissionDeniedError, ServiceUnavailableError
from gateway.estimate import plan_completion, route_price
from gateway.policy.compiler import OrgSettings
from gateway.policy.policy import Route

CHEAP = {"id": "a/cheap", "pricing": {"prompt": "0.000001", "completion": "0.000002"},
         "top_provider": {"max_completion_tokens": 1000}}
DEAR = {"id": "b/dear", "pricing": {"prompt": "0.00001", "completion": "0.00003"}}
ROUTER = {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}}
FREE = {"id": "c/free", "pricing": {"prompt": "0", "completion": "0"}}
CEILING = ModelPrice(0.00001, 0.00003)


def _org(unpriced: str = "ceiling") -> OrgSettings:
    return OrgSettings(rpm=None, tpm=None, max_concurrent=None, subject_rpm=None, subject_tpm=None,
                       subject_max_concurrent=None, daily_budget_usd=1.0, monthly_budget_usd=None,
                       max_completion_tokens=4096, unpriced_models=unpriced)


def _snapshot(*models: dict[str, Any]) -> CatalogueSnapshot:
    table = {m["id"]: m for m in models}
    return CatalogueSnapshot(models=table, openai_list=b"", fetched_at=0.0, ceiling=dearest_price(table))


def test_negative_missing_and_odd_prices_are_unknown_not_free() -> None:
    snapshot = _snapshot(CHEAP, ROUTER, FREE, {"id": "d/none"}, {"id": "e/half", "pricing": {"prompt": "0.1"}},
                         {"id": "f/nan", "pricing": {"prompt": "nan", "completion": "1"}})
    assert snapshot.price("openrouter/auto") is None
    assert snapshot.price("d/none") is None
    assert snapshot.price("e/half") is None
    assert snapshot.price("f/nan") is None
    assert snapshot.price("c/free") == ModelPrice(0.0, 0.0)  # an explicit "0" is free


def test_the_ceiling_is_the_dearest_prompt_and_completion_price() -> None:
    assert dearest_price({m["id"]: m for m in (CHEAP, DEAR, ROUTER, FREE)}) == CEILING
    assert dearest_price({"r": ROUTER}) is None


@pytest.mark.parametrize("model", ["openrouter/auto", "~b/dear-latest", "openrouter/free"])
def test_unpriced_ids_are_reserved_at_the_ceiling(model: str) -> None:
    snapshot = _snapshot(CHEAP, DEAR, ROUTER)
    assert route_price(snapshot, (model,), _org()) == CEILING
    assert route_price(snapshot, ("a/cheap", model), _org()) == CEILING


def test_priced_routes_keep_their_own_dearest_price() -> None:
    snapshot = _snapshot(CHEAP, DEAR, FREE)
    assert route_price(snapshot, ("a/cheap", "c/free"), _org()) == ModelPrice(0.000001, 0.000002)


def test_a_configured_ceiling_wins_over_the_catalogue() -> None:
    snapshot = CatalogueSnapshot(models={"openrouter/auto": ROUTER}, openai_list=b"", fetched_at=0.0,
                                 ceiling=ModelPrice.per_million(5, 20))
    assert route_price(snapshot, ("openrouter/auto",), _org()) == ModelPrice(5e-6, 2e-5)
    assert ModelPrice.per_million(None, None) is None


def test_the_policy_can_refuse_unpriced_ids() -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        route_price(_snapshot(CHEAP, ROUTER), ("openrouter/auto",), _org("refuse"))
    assert refused.value.code == "unpriced_model" and refused.value.status == 403
    assert route_price(_snapshot(CHEAP), ("a/cheap",), _org("refuse")) == ModelPrice(0.000001, 0.000002)


def test_without_any_known_price_an_unpriced_id_is_not_reserved_at_zero() -> None:
    with pytest.raises(ServiceUnavailableError):
        route_price(None, ("openrouter/auto",), _org())
    with pytest.raises(ServiceUnavailableError):
        route_price(_snapshot(ROUTER), ("openrouter/auto",), _org())


def test_max_tokens_above_the_models_maximum_is_clamped_in_the_body() -> None:
    snapshot = _snapshot(CHEAP)
    route = Route(requested="a/cheap", task=None, models=("a/cheap",))
    body: dict[str, Any] = {"max_tokens": 10**9, "max_completion_tokens": 5000}
    completion = plan_completion(body, keys=("max_completion_tokens", "max_tokens"), route=route, snapshot=snapshot,
                                 org=_org(), prompt_tokens=10, price=ModelPrice(0.000001, 0.000002))
    assert completion == 1000
    assert body == {"max_tokens": 1000, "max_completion_tokens": 1000}
    small: dict[str, Any] = {"max_tokens": 50}
    assert plan_completion(small, keys=("max_tokens",), route=route, snapshot=snapshot, org=_org(), prompt_tokens=1,
                           price=ModelPrice(0.0, 0.0)) == 50
    assert small == {"max_tokens": 50}
