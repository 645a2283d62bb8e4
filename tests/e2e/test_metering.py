"""The ledger matches what OpenRouter (the simulator) billed, per org, for every kind of call, including cut streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metering import LedgerRecord
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.metering.traffic import (
    CANCELLABLE_MODEL,
    CHEAP_MODEL,
    UNCANCELLABLE_MODEL,
    chat,
    cut_stream,
    send_mixed,
    slow_answer,
    total_cost,
    wait_for,
)
from tests.servers import ServerThread, serve

# Retries on (the shared e2e policy makes one attempt), quick backoff, and a breaker that never trips.
RETRY_POLICY = """
retry: {max_attempts: 3, base_delay_s: 0.01, max_delay_s: 0.05}
circuit_breaker: {min_requests: 1000000}
"""


@pytest.fixture(scope="module")
def metered(
    sim_server: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerThread, Starlette]]:
    policy = Path(tmp_path_factory.mktemp("policy")) / "policy.yaml"
    policy.write_text(RETRY_POLICY)
    app = create_app(gateway_settings(f"{sim_server.url}/api/v1", policy_file=str(policy)))
    with serve(app) as server:
        yield server, app


def _ledger(app: Starlette) -> list[LedgerRecord]:
    return asyncio.run(app.state.ledger.read(org=None, since=None, limit=10_000))


def _settled(app: Starlette, count: int) -> list[LedgerRecord]:
    """Wait until `count` records are in the ledger and no settlement (or reconciliation) is still running."""
    wait_for(lambda: app.state.background.pending == 0 and len(_ledger(app)) >= count, f"{count} ledger records")
    records = _ledger(app)
    assert len(records) == count
    return records


def _org_traffic(server: ServerThread, sim: Sim, org: str) -> int:
    token = mint_token(JWT_SECRET, org=org, subject="alice", roles=["user"])
    gateway = f"{server.url}/v1"
    with httpx.Client(base_url=gateway, headers={"authorization": f"Bearer {token}"}, timeout=30) as client:
        calls = send_mixed(client, f"Tell {org} about ledgers")
        # Failed first, then retried: each fault is consumed by one model attempt and billed nothing.
        sim.fault(model=CHEAP_MODEL, error=503, count=1)
        assert client.post("/chat/completions", json=chat("retry me")).status_code == 200
        sim.fault(model=CHEAP_MODEL, error=429, count=1)
        assert client.post("/chat/completions", json=chat("retry my stream", stream=True)).status_code == 200
    for model in (CANCELLABLE_MODEL, UNCANCELLABLE_MODEL):
        cut_stream(gateway, token, chat(f"A long story for {org}", model=model, **slow_answer()))
    return calls + 4


def test_ledger_cost_per_org_equals_the_simulators_bill(metered: tuple[ServerThread, Starlette], sim: Sim) -> None:
    server, app = metered
    acme_calls = _org_traffic(server, sim, "acme")
    records = _settled(app, acme_calls)
    wait_for(lambda: sim.stats()["in_flight"] == 0, "the simulator to finish")
    billed_acme = sim.stats()["billed_usd_total"]
    assert total_cost(records, "acme") == pytest.approx(billed_acme, abs=1e-9)

    globex_calls = _org_traffic(server, sim, "globex")
    records = _settled(app, acme_calls + globex_calls)
    billed_globex = sim.stats()["billed_usd_total"] - billed_acme
    assert total_cost(records, "globex") == pytest.approx(billed_globex, abs=1e-9)
    assert total_cost(records, "acme") == pytest.approx(billed_acme, abs=1e-9)  # unchanged by globex's calls

    by_generation = {r["generation_id"]: r for r in sim.requests(limit=200) if r.get("generation_id")}
    cut = [r for r in records if r.cancelled]
    assert len(cut) == 4 and all(r.cost_source == "generation" for r in cut)
    for record in cut:
        billed = by_generation[record.generation_id]
        assert billed["cancelled"] is True
        assert record.cost_usd == pytest.approx(billed["cost"], abs=1e-12)
    # Google bills the whole planned answer although the client left early; OpenAI only what was sent.
    assert all(r.completion_tokens == 200 for r in cut if r.model_routed == UNCANCELLABLE_MODEL)
    assert all(0 < r.completion_tokens < 200 for r in cut if r.model_routed == CANCELLABLE_MODEL)
    retried = [r for r in records if r.retries and r.status == 200]
    assert len(retried) == 4 and all(r.retries == 1 and r.cost_usd > 0 for r in retried)
    failed = [r for r in records if r.status >= 400]
    assert sorted(r.status for r in failed) == [400, 400, 502, 502] and not any(r.cost_usd for r in failed)
    assert {r.cost_source for r in records if not r.cancelled} == {"usage"}


def test_a_cut_stream_whose_generation_never_appears_keeps_the_estimate(sim_server: ServerThread, sim: Sim) -> None:
    sim.control.patch("/_sim/config", json={"generation_delay_ms": 60_000}).raise_for_status()
    app = create_app(gateway_settings(f"{sim_server.url}/api/v1", reconcile_timeout_s=0.5))
    token = mint_token(JWT_SECRET, org="acme", subject="alice", roles=["user"])
    try:
        with serve(app) as server:
            cut_stream(f"{server.url}/v1", token, chat("A long story", model=UNCANCELLABLE_MODEL, **slow_answer()))
            [record] = _settled(app, 1)
    finally:
        sim.control.patch("/_sim/config", json={"generation_delay_ms": 0}).raise_for_status()
    assert record.cancelled and record.cost_source == "estimate"
    assert 0 < record.cost_usd < sim.stats()["billed_usd_total"]  # the estimate counts only what was streamed
    assert record.completion_tokens == 0
