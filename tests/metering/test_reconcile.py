from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.errors import UpstreamError
from gateway.metering import LedgerRecord
from gateway.reconcile import GENERATION_PATH, GenerationReconciler, generation_usage

GENERATION = {"data": {"id": "gen-1", "total_cost": 0.00123, "native_tokens_prompt": 12,
                       "native_tokens_completion": 400, "native_tokens_reasoning": 7, "native_tokens_cached": 3,
                       "tokens_prompt": 99, "tokens_completion": 999}}


class Generations:
    """A `/generation` endpoint that answers 404 (raises, as UpstreamClient does) `misses` times first."""

    def __init__(self, misses: int, document: Any = GENERATION) -> None:
        self.misses = misses
        self.document = document
        self.calls: list[tuple[str, dict[str, str] | None]] = []

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        self.calls.append((path, params))
        if len(self.calls) <= self.misses:
            raise UpstreamError("OpenRouter answered 404 to GET /generation")
        return self.document


def test_native_counts_and_total_cost_become_a_usage_object() -> None:
    usage = generation_usage(GENERATION)
    record = LedgerRecord.start(request_id="r", org="o", subject="s", task=None, model_requested="m",
                                model_routed="m", body={"messages": []})
    record.add_usage(usage)
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens, record.cached_tokens) == (
        12, 400, 7, 3)
    assert record.cost_usd == pytest.approx(0.00123, abs=1e-12)


@pytest.mark.parametrize("document", [None, {}, {"data": None}, {"data": {"total_cost": None}},
                                      {"data": {"total_cost": "0.1"}}, {"data": {"total_cost": True}}])
def test_a_generation_without_a_numeric_cost_is_not_used(document: Any) -> None:
    assert generation_usage(document) is None


async def test_retries_through_404s_with_backoff_then_answers() -> None:
    source = Generations(misses=3)
    reconciler = GenerationReconciler(source, timeout_s=5, first_delay_s=0.01, max_delay_s=0.02)
    usage = await reconciler.lookup("gen-1")
    assert usage is not None and usage["cost"] == 0.00123
    assert source.calls == [(GENERATION_PATH, {"id": "gen-1"})] * 4


async def test_gives_up_after_the_timeout() -> None:
    source = Generations(misses=10**6)
    reconciler = GenerationReconciler(source, timeout_s=0.3, first_delay_s=0.01, max_delay_s=0.05)
    started = time.monotonic()
    assert await reconciler.lookup("gen-1") is None
    assert 0.3 <= time.monotonic() - started < 1.0
    assert 4 <= len(source.calls) <= 40  # backed off, not a busy loop


async def test_a_slow_answer_is_cut_at_the_timeout() -> None:
    class Hanging:
        async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
            await asyncio.sleep(60)

    started = time.monotonic()
    assert await GenerationReconciler(Hanging(), timeout_s=0.2).lookup("gen-1") is None
    assert time.monotonic() - started < 1.0


async def test_close_ends_a_lookup_under_way_and_disables_new_ones() -> None:
    source = Generations(misses=10**6)
    reconciler = GenerationReconciler(source, timeout_s=30, first_delay_s=5)
    lookup = asyncio.ensure_future(reconciler.lookup("gen-1"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    reconciler.close()
    assert await lookup is None
    assert time.monotonic() - started < 0.5
    assert not reconciler.enabled
    calls = len(source.calls)
    assert await reconciler.lookup("gen-2") is None and len(source.calls) == calls


def test_zero_timeout_disables_reconciliation() -> None:
    assert not GenerationReconciler(Generations(0), timeout_s=0).enabled
