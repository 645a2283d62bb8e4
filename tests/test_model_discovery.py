"""UnknownModelRefresher: an unknown id refetches the catalogue once (single-flight), at most once per interval."""

from __future__ import annotations

import asyncio

from gateway.model_discovery import UnknownModelRefresher
from tests.test_catalogue import CLAUDE, GPT_4O_MINI, FakeUpstream, ManualClock, make_catalogue

NEW = {**GPT_4O_MINI, "id": "openai/gpt-brand-new"}


async def test_known_ids_never_refetch() -> None:
    upstream, clock = FakeUpstream(GPT_4O_MINI), ManualClock()
    refresher = UnknownModelRefresher(make_catalogue(upstream, clock), min_interval_s=5, clock=clock)
    for _ in range(3):
        snapshot = await refresher.lookup("openai/gpt-4o-mini")
        assert snapshot is not None and snapshot.knows("openai/gpt-4o-mini")
    assert len(upstream.calls) == 1  # the first fetch only


async def test_unknown_id_refetches_once_and_is_found() -> None:
    upstream, clock = FakeUpstream(GPT_4O_MINI), ManualClock()
    refresher = UnknownModelRefresher(make_catalogue(upstream, clock), min_interval_s=5, clock=clock)
    await refresher.lookup("openai/gpt-4o-mini")
    upstream.serve(GPT_4O_MINI, NEW)
    snapshot = await refresher.lookup(NEW["id"])
    assert snapshot is not None and snapshot.knows(NEW["id"])
    assert len(upstream.calls) == 2


async def test_concurrent_unknown_ids_share_one_fetch() -> None:
    upstream, clock = FakeUpstream(GPT_4O_MINI), ManualClock()
    refresher = UnknownModelRefresher(make_catalogue(upstream, clock), min_interval_s=5, clock=clock)
    await refresher.lookup("openai/gpt-4o-mini")
    upstream.serve(GPT_4O_MINI, NEW)
    upstream.gate = asyncio.Event()
    lookups = [asyncio.ensure_future(refresher.lookup(f"junk/{i}" if i % 2 else NEW["id"])) for i in range(20)]
    await asyncio.sleep(0)
    upstream.gate.set()
    snapshots = await asyncio.gather(*lookups)
    assert len(upstream.calls) == 2
    assert all(s is not None and s.knows(NEW["id"]) for s in snapshots)  # every waiter saw the new catalogue


async def test_unknown_ids_refetch_at_most_once_per_interval() -> None:
    upstream, clock = FakeUpstream(GPT_4O_MINI), ManualClock()
    refresher = UnknownModelRefresher(make_catalogue(upstream, clock), min_interval_s=5, clock=clock)
    await refresher.lookup("junk/a")
    assert len(upstream.calls) == 2  # the first fetch, then one refetch for the unknown id
    upstream.serve(GPT_4O_MINI, CLAUDE)
    snapshot = await refresher.lookup(CLAUDE["id"])
    assert len(upstream.calls) == 2 and snapshot is not None and not snapshot.knows(CLAUDE["id"])
    clock.advance(5)
    snapshot = await refresher.lookup(CLAUDE["id"])
    assert len(upstream.calls) == 3 and snapshot is not None and snapshot.knows(CLAUDE["id"])


async def test_failed_refetch_keeps_the_last_snapshot() -> None:
    upstream, clock = FakeUpstream(GPT_4O_MINI), ManualClock()
    refresher = UnknownModelRefresher(make_catalogue(upstream, clock), min_interval_s=5, clock=clock)
    await refresher.lookup("openai/gpt-4o-mini")
    upstream.fail = True
    snapshot = await refresher.lookup("junk/x")
    assert snapshot is not None and snapshot.knows("openai/gpt-4o-mini") and not snapshot.knows("junk/x")
