"""API keys' own limits inside the org's single admission, and totals by tag in settlement (both backends)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from gateway.limits import Budget, RateLimits, Settlement
from gateway.limits.spool import SettlementSpool
from gateway.limits.types import KeyLimits
from tests.limits.conftest import Harness, ask

DAY = 86_400.0


def settle(request_id: str, cost: float, *, key_id: str | None = None, tokens: int = 0,
           tags: dict[str, str] | None = None, retention_s: float = DAY) -> Settlement:
    return Settlement(request_id, "acme", "alice", "m", cost, tokens, Budget(), key_id=key_id, tags=tags or {},
                      tag_retention_s=retention_s)


async def test_a_keys_rpm_refuses_before_the_orgs_and_consumes_nothing_of_it(harness: Harness) -> None:
    key = KeyLimits("k1", rpm=1)
    org = RateLimits(rpm=3)
    assert (await harness.backend.admit(dataclasses.replace(ask(org_limits=org), key=key))).allowed
    refused = await harness.backend.admit(dataclasses.replace(ask(org_limits=org), key=key))
    assert (refused.allowed, refused.reason) == (False, "key_rpm")
    assert refused.requests_limit == 1 and refused.requests_remaining == 0
    # The refused key call took nothing from the org: two more of its three requests remain for others.
    others = [await harness.backend.admit(ask(org_limits=org)) for _ in range(3)]
    assert [a.allowed for a in others] == [True, True, False]
    assert others[2].reason == "org_rpm"


async def test_an_org_refusal_consumes_nothing_of_the_key(harness: Harness) -> None:
    key = KeyLimits("k1", rpm=2)
    full = RateLimits(rpm=1)
    assert (await harness.backend.admit(ask(org_limits=full))).allowed
    assert (await harness.backend.admit(dataclasses.replace(ask(org_limits=full), key=key))).reason == "org_rpm"
    # With the org's limit lifted, the key still has both its requests.
    results = [await harness.backend.admit(dataclasses.replace(ask(), key=key)) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]


async def test_a_keys_tpm_is_corrected_to_the_actual_tokens(harness: Harness) -> None:
    key = KeyLimits("k1", tpm=1000)
    first = dataclasses.replace(ask(tokens=900, request_id="t1"), key=key)
    assert (await harness.backend.admit(first)).allowed
    assert (await harness.backend.admit(dataclasses.replace(ask(tokens=900), key=key))).reason == "key_tpm"
    await harness.backend.settle(settle("t1", 0.0, key_id="k1", tokens=100))
    assert (await harness.backend.admit(dataclasses.replace(ask(tokens=800), key=key))).allowed


async def test_a_keys_daily_budget_counts_only_its_own_spend(harness: Harness) -> None:
    key = KeyLimits("k1", daily_usd=1.0)
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.6, request_id="a"), key=key))).allowed
    held = await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.6), key=key))
    assert (held.allowed, held.reason) == (False, "key_daily_budget") and held.retry_after_s > 0
    # Another key and JWT callers of the same org are not held by this key's budget.
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.6), key=KeyLimits("k2")))).allowed
    await harness.backend.settle(settle("a", 0.5, key_id="k1"))
    spend = await harness.backend.key_spend("acme", "k1")
    assert (spend.daily_usd, spend.monthly_usd, spend.total_usd) == (0.5, 0.5, 0.5)
    assert spend.last_used_ms is not None and spend.reserved_usd == 0.0
    # The key's spend is the org's spend too, settled in the same step.
    assert (await harness.backend.spend("acme")).daily_usd >= 0.5
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.5), key=key))).allowed
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.01), key=key))).reason == (
        "key_daily_budget"
    )


async def test_the_orgs_budget_still_binds_a_key_with_room(harness: Harness) -> None:
    key = KeyLimits("k1", monthly_usd=100.0)
    refused = await harness.backend.admit(dataclasses.replace(ask(budget=Budget(daily_usd=1.0), reserve_usd=2.0),
                                                              key=key))
    assert refused.reason == "daily_budget"
    assert (await harness.backend.key_spend("acme", "k1")).reserved_usd == 0.0


async def test_release_frees_the_keys_reservation(harness: Harness) -> None:
    key = KeyLimits("k1", monthly_usd=1.0)
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.9, request_id="r"), key=key))).allowed
    assert (await harness.backend.key_spend("acme", "k1")).reserved_usd == 0.9
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.9), key=key))).reason == (
        "key_monthly_budget"
    )
    await harness.backend.release("r", "acme", "alice", "k1")
    assert (await harness.backend.key_spend("acme", "k1")).reserved_usd == 0.0
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=0.9), key=key))).allowed


def tagged(i: int) -> dict[str, str]:
    return {"run_id": "run-42", "session_id": f"s{i % 2}"}


async def test_100_concurrent_tagged_settlements_sum_exactly(harness: Harness) -> None:
    costs = [0.000_123 * (i + 1) for i in range(100)]
    await asyncio.gather(*(
        harness.backend.settle(settle(f"s{i}", cost, tokens=10 + i, tags=tagged(i)))
        for i, cost in enumerate(costs)
    ))
    totals = await harness.backend.tag_totals("acme", "run_id", "run-42")
    assert totals.calls == 100
    assert totals.tokens == sum(10 + i for i in range(100))
    assert totals.cost_usd == round(sum(round(c * 1e9) for c in costs) / 1e9, 9)
    assert (await harness.backend.tag_totals("acme", "session_id", "s0")).calls == 50
    # A repeated settlement (a spool replay) counts nothing twice.
    await harness.backend.settle(settle("s0", costs[0], tokens=10, tags={"run_id": "run-42"}))
    assert (await harness.backend.tag_totals("acme", "run_id", "run-42")).calls == 100
    assert (await harness.backend.tag_totals("acme", "run_id", "other")).calls == 0
    assert (await harness.backend.tag_totals("other-org", "run_id", "run-42")).calls == 0


async def test_tag_totals_expire_after_their_retention(harness: Harness) -> None:
    await harness.backend.settle(settle("e1", 0.5, tags={"run_id": "short"}, retention_s=0.2))
    assert (await harness.backend.tag_totals("acme", "run_id", "short")).calls == 1
    await harness.advance(0.4)
    assert (await harness.backend.tag_totals("acme", "run_id", "short")).calls == 0


async def test_a_colon_in_a_tag_key_cannot_merge_two_tags(harness: Harness) -> None:
    await harness.backend.settle(settle("c1", 0.1, tags={"a": "b:c"}))
    await harness.backend.settle(settle("c2", 0.1, tags={"a:b": "c"}))
    assert (await harness.backend.tag_totals("acme", "a", "b:c")).calls == 1
    assert (await harness.backend.tag_totals("acme", "a:b", "c")).calls == 1


async def test_a_spooled_settlement_keeps_its_key_and_tags(harness: Harness, tmp_path: Path) -> None:
    key = KeyLimits("k1", daily_usd=5.0)
    assert (await harness.backend.admit(dataclasses.replace(ask(reserve_usd=1.0, request_id="sp"), key=key))).allowed
    spool = SettlementSpool(tmp_path / "spool.jsonl")
    await spool.append(settle("sp", 0.25, key_id="k1", tags={"run_id": "spooled"}))
    report = await spool.replay(harness.backend.settle)
    assert report.replayed == 1
    spend = await harness.backend.key_spend("acme", "k1")
    assert (spend.total_usd, spend.reserved_usd) == (0.25, 0.0)
    assert (await harness.backend.tag_totals("acme", "run_id", "spooled")).cost_usd == 0.25
