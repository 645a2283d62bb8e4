from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.metering import LedgerRecord
from gateway.metrics import Metrics
from tests.metering.conftest import make_record
from tests.metering.metrics_samples import samples, value

README_METRICS = {
    "gateway_requests_total", "gateway_request_duration_seconds", "gateway_upstream_duration_seconds",
    "gateway_overhead_seconds", "gateway_time_to_first_token_seconds", "gateway_tokens_total",
    "gateway_cost_usd_total", "gateway_retries_total", "gateway_fallbacks_total", "gateway_circuit_state",
    "gateway_rate_limited_total", "gateway_budget_rejections_total", "gateway_budget_utilisation_ratio",
    "gateway_in_flight_requests", "gateway_store_errors_total", "gateway_store_degraded",
    "gateway_ledger_errors_total", "gateway_budget_alerts_total", "gateway_cache_total",
}


def _served_call() -> LedgerRecord:
    record = make_record(status=200, latency_ms=1500.0, ttft_ms=300.0, retries=2, fallbacks=1, cache="miss",
                         model_served="anthropic/claude-3.5-haiku")
    record.add_usage({"prompt_tokens": 100, "completion_tokens": 40, "cost": 0.0025,
                      "completion_tokens_details": {"reasoning_tokens": 10},
                      "prompt_tokens_details": {"cached_tokens": 64}})
    return record


def test_render_declares_every_documented_metric() -> None:
    body, content_type = Metrics().render()
    assert content_type == CONTENT_TYPE_LATEST
    text = body.decode()
    for name in README_METRICS:
        assert f"# TYPE {name} " in text, name


def test_observe_call_updates_request_token_cost_and_latency_series() -> None:
    metrics = Metrics()
    metrics.observe_call(_served_call(), route="chat", upstream_s=1.4, overhead_s=0.0008)
    metrics.observe_call(_served_call(), route="chat", upstream_s=1.4, overhead_s=0.0008)
    body, _ = metrics.render()
    served = "anthropic/claude-3.5-haiku"
    assert value(body, "gateway_requests_total", route="chat", model=served, status="200", org="acme") == 2
    for kind, count in {"prompt": 200, "completion": 80, "reasoning": 20, "cached": 128}.items():
        assert value(body, "gateway_tokens_total", model=served, kind=kind) == count
    assert value(body, "gateway_cost_usd_total", model=served, org="acme") == pytest.approx(0.005)
    assert value(body, "gateway_retries_total", model=served) == 4
    assert value(body, "gateway_fallbacks_total", from_model="openai/gpt-4o-mini", to_model=served) == 2
    assert value(body, "gateway_cache_total", result="miss") == 2
    assert value(body, "gateway_request_duration_seconds_count", route="chat") == 2
    assert value(body, "gateway_request_duration_seconds_sum", route="chat") == pytest.approx(3.0)
    assert value(body, "gateway_upstream_duration_seconds_sum", model=served) == pytest.approx(2.8)
    assert value(body, "gateway_time_to_first_token_seconds_sum", model=served) == pytest.approx(0.6)
    # Sub-millisecond overhead lands in the first buckets, not lumped in with LLM latencies.
    assert value(body, "gateway_overhead_seconds_bucket", route="chat", le="0.0005") == 0
    assert value(body, "gateway_overhead_seconds_bucket", route="chat", le="0.001") == 2


def test_a_failed_call_without_usage_counts_only_the_request() -> None:
    metrics = Metrics()
    metrics.observe_call(make_record(status=502, error_type="api_error"), route="chat", upstream_s=0.0,
                         overhead_s=0.001)
    body, _ = metrics.render()
    assert value(body, "gateway_requests_total", route="chat", model="openai/gpt-4o-mini", status="502",
                 org="acme") == 1
    names = {name for name, _ in samples(body)}
    assert "gateway_tokens_total" not in names
    assert "gateway_upstream_duration_seconds_count" not in names
    assert "gateway_time_to_first_token_seconds_count" not in names


def test_org_label_can_be_turned_off() -> None:
    metrics = Metrics(org_label=False)
    metrics.observe_call(_served_call(), route="chat", upstream_s=1.0, overhead_s=0.001)
    metrics.rate_limited("acme", "rpm")
    metrics.budget_rejected("acme", "daily")
    body, _ = metrics.render()
    served = "anthropic/claude-3.5-haiku"
    assert value(body, "gateway_requests_total", route="chat", model=served, status="200") == 1
    assert value(body, "gateway_cost_usd_total", model=served) == pytest.approx(0.0025)
    assert value(body, "gateway_rate_limited_total", reason="rpm") == 1
    assert value(body, "gateway_budget_rejections_total", org="acme", period="daily") == 1  # budgets keep org
    assert "acme" not in body.decode().split("gateway_budget")[0]


def test_control_plane_series() -> None:
    metrics = Metrics()
    metrics.circuit_state("openai/gpt-4o", "open")
    metrics.circuit_state("openai/gpt-4o-mini", 1)
    metrics.rate_limited("acme", "tpm")
    metrics.budget_utilisation("acme", "monthly", 0.8)
    metrics.budget_alert("acme", "monthly", "0.8")
    metrics.store_error("redis", "admit")
    metrics.store_degraded(True)
    metrics.ledger_error()
    with metrics.in_flight(), metrics.in_flight():
        during, _ = metrics.render()
    after, _ = metrics.render()
    assert value(during, "gateway_in_flight_requests") == 2
    assert value(after, "gateway_in_flight_requests") == 0
    assert value(after, "gateway_circuit_state", model="openai/gpt-4o") == 2
    assert value(after, "gateway_circuit_state", model="openai/gpt-4o-mini") == 1
    assert value(after, "gateway_rate_limited_total", org="acme", reason="tpm") == 1
    assert value(after, "gateway_budget_utilisation_ratio", org="acme", period="monthly") == 0.8
    assert value(after, "gateway_budget_alerts_total", org="acme", period="monthly", threshold="0.8") == 1
    assert value(after, "gateway_store_errors_total", store="redis", operation="admit") == 1
    assert value(after, "gateway_store_degraded") == 1
    assert value(after, "gateway_ledger_errors_total") == 1


def test_each_instance_has_its_own_registry() -> None:
    # Two app instances in one process (tests, embedding) must not collide on registration or share counts.
    first, second = Metrics(), Metrics()
    first.ledger_error()
    assert value(second.render()[0], "gateway_ledger_errors_total") == 0


async def test_calls_are_summed_in_memory_then_applied_once_with_the_same_figures() -> None:
    metrics = Metrics()
    for overhead in (0.0004, 0.0007, 0.003, 0.2, 30.0):
        metrics.observe_call(_served_call(), route="chat", upstream_s=1.4, overhead_s=overhead)
    served = "anthropic/claude-3.5-haiku"
    assert metrics._tally._counters  # inside a loop the updates wait for the timer (or a render)
    body, _ = metrics.render()
    assert not metrics._tally._counters and not metrics._tally._histograms
    assert value(body, "gateway_requests_total", route="chat", model=served, status="200", org="acme") == 5
    assert value(body, "gateway_tokens_total", model=served, kind="prompt") == 500
    assert value(body, "gateway_overhead_seconds_count", route="chat") == 5
    assert value(body, "gateway_overhead_seconds_sum", route="chat") == pytest.approx(30.2041)
    for bound, count in {"0.0005": 1, "0.001": 2, "0.005": 3, "0.25": 4, "10.0": 4, "+Inf": 5}.items():
        assert value(body, "gateway_overhead_seconds_bucket", route="chat", le=bound) == count, bound
    await asyncio.sleep(0.02)  # and without a render, the timer applies them a few ms later
    metrics.observe_call(_served_call(), route="chat", upstream_s=1.4, overhead_s=0.1)
    await asyncio.sleep(0.05)
    assert not metrics._tally._counters
    body, _ = metrics.render()
    assert value(body, "gateway_requests_total", route="chat", model=served, status="200", org="acme") == 6
