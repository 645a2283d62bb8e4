"""What a fresh `Metrics()` really exports, and the metric names a PromQL expression uses."""

from __future__ import annotations

import re
from functools import cache

from prometheus_client.parser import text_string_to_metric_families

from gateway.metering.record import LedgerRecord
from gateway.metrics import Metrics

# Series Prometheus itself provides; everything else a rule or panel uses must come from gateway/metrics.py.
PROMETHEUS_SERIES = {"up"}
_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created")}
_IDENTIFIER = re.compile(r"\b(gateway_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(gateway_[a-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def _exercise(metrics: Metrics) -> None:
    """Touch every labelled metric once so the rendered text carries its label names."""
    record = LedgerRecord(
        request_id="r", timestamp="2025-01-01T00:00:00Z", org="acme", subject="s", task=None,
        model_requested="a/m", model_routed="a/m", model_served="b/m", prompt_tokens=1, completion_tokens=1,
        reasoning_tokens=1, cached_tokens=1, cost_usd=0.1, ttft_ms=5.0, latency_ms=10.0, retries=1, fallbacks=1,
        status=200, cache="miss",
    )
    metrics.observe_call(record, route="chat", upstream_s=0.01, overhead_s=0.001)
    metrics.circuit_state("a/m", "open")
    metrics.rate_limited("acme", "rpm")
    metrics.budget_rejected("acme", "daily")
    metrics.budget_utilisation("acme", "daily", 0.5)
    metrics.budget_alert("acme", "daily", "50")
    metrics.store_error("redis", "admit")
    metrics.store_degraded(True)
    metrics.ledger_error()


@cache
def exported_series() -> dict[str, frozenset[str]]:
    """Sample name -> label names, for every series the gateway can export (histogram buckets add `le`)."""
    metrics = Metrics()
    _exercise(metrics)
    with metrics.in_flight():
        body, _ = metrics.render()
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(body.decode()):
        if not family.name.startswith("gateway_"):
            continue
        for suffix in _SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in series.items()}


def problems(expr: str) -> list[str]:
    """Unknown metric names and labels a metric does not have; empty when the expression fits the gateway."""
    known = exported_series()
    found: list[str] = []
    names = set(_IDENTIFIER.findall(expr))
    if not names and not any(re.search(rf"\b{name}\b", expr) for name in PROMETHEUS_SERIES):
        found.append(f"no gateway metric in {expr!r}")
    found += [f"unknown metric {name}" for name in sorted(names - known.keys())]
    for name, matchers in _SELECTOR.findall(expr):
        for label in _MATCHER.findall(matchers):
            if name in known and label not in known[name]:
                found.append(f"{name} has no label {label!r}")
    labels_in_expr = set().union(*(known.get(name, frozenset()) for name in names)) if names else set()
    for group in _GROUPING.findall(expr):
        for label in filter(None, (part.strip() for part in group.split(","))):
            if names and label not in labels_in_expr:
                found.append(f"grouping by {label!r}, which none of {sorted(names)} has")
    return found
