"""ModelCatalogue serves OpenRouter's /models in OpenAI's shape, caches it for a TTL, refreshes it with one fetch at
a time while stale callers keep the last good snapshot, and never trades a good snapshot for a failed or malformed
answer; CatalogueSnapshot recognises, prices and sizes models."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.catalogue import CatalogueSnapshot, ModelCatalogue, ModelPrice, to_openai_model
from gateway.errors import UpstreamError
from gateway.upstream.client import UpstreamClient

TTL_S = 60.0

GPT_4O_MINI: dict[str, Any] = {
    "id": "openai/gpt-4o-mini",
    "name": "OpenAI: GPT-4o-mini",
    "created": 1721260800,
    "context_length": 128000,
    "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
    "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, "is_moderated": True},
}
CLAUDE: dict[str, Any] = {
    "id": "anthropic/claude-sonnet-4.5",
    "created": 1759161676.0,  # a float from upstream still becomes an int
    "context_length": 1000000,
    "pricing": {"prompt": "0.000003", "completion": "0.000015"},
    "top_provider": {"context_length": 1000000, "max_completion_tokens": None},
}
NO_CREATED: dict[str, Any] = {"id": "mistralai/mistral-small", "context_length": 32000}


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeUpstream:
    """Stands in for UpstreamClient.get_json: counts calls, can fail, can be held on an Event."""

    def __init__(self, *models: dict[str, Any]) -> None:
        self.payload: Any = {"data": list(models)}
        self.calls: list[tuple[str, dict[str, str] | None]] = []
        self.fail = False
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def serve(self, *models: dict[str, Any]) -> None:
        self.payload = {"data": list(models)}

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        self.calls.append((path, params))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise UpstreamError("OpenRouter answered 500 to GET /models")
        return self.payload


def make_catalogue(upstream: FakeUpstream, clock: ManualClock) -> ModelCatalogue:
    return ModelCatalogue(upstream, ttl_s=TTL_S, clock=clock)  # type: ignore[arg-type]  # duck-typed UpstreamClient


async def settle(condition: Callable[[], bool], max_steps: int = 100) -> None:
    """Let the background refresh run, one loop step at a time, until `condition` holds."""
    for _ in range(max_steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"condition not met after {max_steps} event-loop steps")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream(GPT_4O_MINI, CLAUDE, NO_CREATED)


def test_fake_matches_the_upstream_method_it_stands_in_for() -> None:
    real = inspect.signature(UpstreamClient.get_json)
    fake = inspect.signature(FakeUpstream.get_json)
    assert list(real.parameters) == list(fake.parameters)
    assert inspect.iscoroutinefunction(UpstreamClient.get_json)


async def test_first_call_fetches_and_lists_models_in_openai_shape(upstream: FakeUpstream, clock: ManualClock) -> None:
    catalogue = make_catalogue(upstream, clock)
    assert catalogue.snapshot is None

    snapshot = await catalogue.current()

    assert snapshot is not None and catalogue.snapshot is snapshot
    assert upstream.calls == [("/models", {"output_modalities": "all"})]
    assert snapshot.fetched_at == clock.now
    assert set(snapshot.models) == {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "mistralai/mistral-small"}
    assert isinstance(snapshot.openai_list, bytes)
    listing = orjson.loads(snapshot.openai_list)
    assert listing["object"] == "list"
    by_id = {item["id"]: item for item in listing["data"]}
    assert [item["id"] for item in listing["data"]] == [GPT_4O_MINI["id"], CLAUDE["id"], NO_CREATED["id"]]
    for item in listing["data"]:
        assert item["object"] == "model"
        assert type(item["created"]) is int
    assert by_id["openai/gpt-4o-mini"]["owned_by"] == "openai"
    assert by_id["anthropic/claude-sonnet-4.5"]["owned_by"] == "anthropic"
    assert by_id["openai/gpt-4o-mini"]["created"] == 1721260800
    assert by_id["anthropic/claude-sonnet-4.5"]["created"] == 1759161676
    assert by_id["mistralai/mistral-small"]["created"] == 0
    # OpenRouter's extra fields survive the conversion.
    assert by_id["openai/gpt-4o-mini"]["pricing"] == GPT_4O_MINI["pricing"]
    assert by_id["openai/gpt-4o-mini"]["context_length"] == 128000
    assert by_id["openai/gpt-4o-mini"]["top_provider"]["max_completion_tokens"] == 16384
    assert by_id["openai/gpt-4o-mini"]["name"] == "OpenAI: GPT-4o-mini"
    # The conversion copies: the snapshot's raw models are not rewritten in OpenAI's shape.
    assert "object" not in snapshot.models["openai/gpt-4o-mini"]


async def test_items_without_an_id_are_skipped(clock: ManualClock) -> None:
    upstream = FakeUpstream(GPT_4O_MINI, {"name": "no id"}, "not-a-dict")  # type: ignore[arg-type]
    snapshot = await make_catalogue(upstream, clock).current()
    assert snapshot is not None
    assert list(snapshot.models) == ["openai/gpt-4o-mini"]
    assert [item["id"] for item in orjson.loads(snapshot.openai_list)["data"]] == ["openai/gpt-4o-mini"]


async def test_within_the_ttl_the_snapshot_is_served_without_refetching(
    upstream: FakeUpstream, clock: ManualClock
) -> None:
    catalogue = make_catalogue(upstream, clock)
    first = await catalogue.current()
    clock.advance(TTL_S - 0.001)
    for _ in range(5):
        assert await catalogue.current() is first
    await asyncio.sleep(0)  # a background refresh, had one been scheduled, would have started by now
    assert len(upstream.calls) == 1


async def test_concurrent_first_calls_share_one_fetch(upstream: FakeUpstream, clock: ManualClock) -> None:
    upstream.gate = asyncio.Event()
    catalogue = make_catalogue(upstream, clock)
    waiting = [asyncio.ensure_future(catalogue.current()) for _ in range(20)]
    await asyncio.wait_for(upstream.entered.wait(), 2)
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)  # nobody gets an answer before the fetch does
    upstream.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*waiting), 2)
    assert len(upstream.calls) == 1
    assert results[0] is not None and all(result is results[0] for result in results)


async def test_a_cancelled_first_caller_does_not_cancel_the_shared_fetch(
    upstream: FakeUpstream, clock: ManualClock
) -> None:
    upstream.gate = asyncio.Event()
    catalogue = make_catalogue(upstream, clock)
    impatient = asyncio.ensure_future(catalogue.current())
    patient = asyncio.ensure_future(catalogue.current())
    await asyncio.wait_for(upstream.entered.wait(), 2)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    upstream.gate.set()
    snapshot = await asyncio.wait_for(patient, 2)
    assert snapshot is not None and catalogue.snapshot is snapshot
    assert len(upstream.calls) == 1


async def test_stale_snapshot_is_served_at_once_while_one_background_refresh_runs(
    upstream: FakeUpstream, clock: ManualClock
) -> None:
    catalogue = make_catalogue(upstream, clock)
    stale = await catalogue.current()
    assert stale is not None

    upstream.serve(GPT_4O_MINI)
    upstream.gate = asyncio.Event()
    upstream.entered.clear()
    clock.advance(TTL_S)  # exactly at the TTL counts as stale

    # Twenty callers at once, while the refresh is held: every one gets the stale snapshot without waiting.
    results = await asyncio.wait_for(asyncio.gather(*(catalogue.current() for _ in range(20))), 1)
    assert all(result is stale for result in results)
    await asyncio.wait_for(upstream.entered.wait(), 2)
    # More callers while the refresh is still in flight start nothing new.
    for _ in range(5):
        assert await catalogue.current() is stale
    await asyncio.sleep(0)
    assert len(upstream.calls) == 2
    assert catalogue.snapshot is stale

    upstream.gate.set()
    await settle(lambda: catalogue.snapshot is not stale)
    fresh = catalogue.snapshot
    assert fresh is not None
    assert list(fresh.models) == ["openai/gpt-4o-mini"]
    assert fresh.fetched_at == clock.now
    assert await catalogue.current() is fresh
    await asyncio.sleep(0)
    assert len(upstream.calls) == 2


async def refresh_in_background(
    catalogue: ModelCatalogue, upstream: FakeUpstream, clock: ManualClock, *, serving: CatalogueSnapshot
) -> None:
    """Let the snapshot go stale, check the stale one is served at once, and wait for the one background fetch."""
    upstream.entered.clear()
    clock.advance(TTL_S + 1)
    assert await catalogue.current() is serving
    await asyncio.wait_for(upstream.entered.wait(), 2)
    await asyncio.sleep(0)


async def test_a_failed_refresh_keeps_the_last_good_snapshot(upstream: FakeUpstream, clock: ManualClock) -> None:
    catalogue = make_catalogue(upstream, clock)
    good = await catalogue.current()
    assert good is not None

    upstream.fail = True
    await refresh_in_background(catalogue, upstream, clock, serving=good)
    assert len(upstream.calls) == 2
    assert catalogue.snapshot is good
    assert await catalogue.current() is good

    # Right after a failure the stale copy is served without asking again (no fetch per request in an outage)...
    upstream.fail = False
    upstream.serve(CLAUDE)
    clock.advance(1)
    assert await catalogue.current() is good
    await asyncio.sleep(0)
    assert len(upstream.calls) == 2
    # ...and once the retry interval has passed, the next stale call refreshes.
    clock.advance(5)
    assert await catalogue.current() is good
    await settle(lambda: catalogue.snapshot is not good)
    assert len(upstream.calls) == 3
    assert catalogue.snapshot is not None and list(catalogue.snapshot.models) == [CLAUDE["id"]]


async def test_a_failed_first_fetch_returns_none_and_the_next_call_retries(
    upstream: FakeUpstream, clock: ManualClock
) -> None:
    catalogue = make_catalogue(upstream, clock)
    upstream.fail = True
    assert await catalogue.current() is None
    assert catalogue.snapshot is None
    assert len(upstream.calls) == 1

    upstream.fail = False
    snapshot = await catalogue.current()
    assert snapshot is not None and "openai/gpt-4o-mini" in snapshot.models
    assert len(upstream.calls) == 2


@pytest.mark.parametrize("payload", [{"data": None}, {"models": []}, {"data": {"id": "x/y"}}, [], None, "oops"])
async def test_a_payload_without_a_data_list_keeps_the_previous_snapshot(
    upstream: FakeUpstream, clock: ManualClock, payload: Any
) -> None:
    catalogue = make_catalogue(upstream, clock)
    good = await catalogue.current()
    assert good is not None

    upstream.payload = payload
    await refresh_in_background(catalogue, upstream, clock, serving=good)
    assert catalogue.snapshot is good
    assert len(upstream.calls) == 2


async def test_a_malformed_first_payload_returns_none(clock: ManualClock) -> None:
    upstream = FakeUpstream()
    upstream.payload = {"error": {"message": "nope"}}
    assert await make_catalogue(upstream, clock).current() is None


async def test_an_empty_data_list_is_a_valid_empty_catalogue(upstream: FakeUpstream, clock: ManualClock) -> None:
    upstream.serve()
    snapshot = await make_catalogue(upstream, clock).current()
    assert snapshot is not None
    assert dict(snapshot.models) == {}
    assert orjson.loads(snapshot.openai_list) == {"object": "list", "data": []}
    assert not snapshot.knows("openai/gpt-4o-mini")


def snapshot_of(*models: dict[str, Any]) -> CatalogueSnapshot:
    return CatalogueSnapshot(models={m["id"]: m for m in models}, openai_list=b"", fetched_at=0.0)


@pytest.mark.parametrize(
    "model_id",
    [
        "openai/gpt-4o-mini",
        "openai/gpt-4o-mini:nitro",
        "openai/gpt-4o-mini:floor",
        "anthropic/claude-sonnet-4.5:thinking",
        "openrouter/auto",
        "openrouter/some-router-we-never-listed",
        "~anthropic/claude-sonnet-latest",
    ],
)
def test_knows_catalogue_models_variants_and_pass_through_ids(model_id: str) -> None:
    assert snapshot_of(GPT_4O_MINI, CLAUDE).knows(model_id)


@pytest.mark.parametrize(
    "model_id",
    ["acme/imaginary-1", "openai/gpt-4o", "openai/gpt-4o-mini-2", "gpt-4o-mini", ":nitro", "", "openai/"],
)
def test_rejects_unknown_ids(model_id: str) -> None:
    assert not snapshot_of(GPT_4O_MINI, CLAUDE).knows(model_id)


def test_get_prefers_an_exact_id_over_the_base_of_a_variant() -> None:
    extended = {"id": "openai/gpt-4o-mini:extended", "context_length": 1}
    snapshot = snapshot_of(GPT_4O_MINI, extended)
    assert snapshot.get("openai/gpt-4o-mini:extended") is extended
    assert snapshot.get("openai/gpt-4o-mini:nitro") is GPT_4O_MINI


def test_price_parses_per_token_strings() -> None:
    snapshot = snapshot_of(GPT_4O_MINI, CLAUDE, NO_CREATED, {"id": "x/bad", "pricing": {"prompt": "free"}})
    assert snapshot.price("openai/gpt-4o-mini") == ModelPrice(prompt=1.5e-7, completion=6e-7)
    assert snapshot.price("openai/gpt-4o-mini:nitro") == ModelPrice(prompt=1.5e-7, completion=6e-7)
    assert snapshot.price("anthropic/claude-sonnet-4.5") == ModelPrice(prompt=3e-6, completion=1.5e-5)
    assert snapshot.price("mistralai/mistral-small") is None  # no pricing: unknown, reserved at the ceiling
    assert snapshot.price("x/bad") is None
    assert snapshot.price("acme/imaginary-1") is None


def test_max_output_tokens_prefers_the_top_provider_limit() -> None:
    snapshot = snapshot_of(GPT_4O_MINI, CLAUDE, NO_CREATED, {"id": "x/none"})
    assert snapshot.max_output_tokens("openai/gpt-4o-mini") == 16384  # not the 128000 context length
    assert snapshot.max_output_tokens("openai/gpt-4o-mini:nitro") == 16384
    assert snapshot.max_output_tokens("anthropic/claude-sonnet-4.5") == 1000000  # null limit: context length
    assert snapshot.max_output_tokens("mistralai/mistral-small") == 32000  # no top_provider at all
    assert snapshot.max_output_tokens("x/none") is None
    assert snapshot.max_output_tokens("acme/imaginary-1") is None


def test_odd_upstream_fields_do_not_break_the_catalogue() -> None:
    odd = {"id": "odd/model", "created": "2024-05-13", "pricing": ["0.1", "0.2"]}
    assert to_openai_model(odd)["created"] == 0
    snapshot = CatalogueSnapshot(models={"odd/model": odd}, openai_list=b"", fetched_at=0.0)
    assert snapshot.price("odd/model") is None
