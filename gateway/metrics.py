"""Prometheus metrics: one `Metrics` per process, built in the app factory, correct under several workers.

With several uvicorn workers each process only sees its own counters, so a scrape that lands on one worker
would under-report. When `PROMETHEUS_MULTIPROC_DIR` is set, prometheus-client keeps every value in per-process
mmap files in that directory and `render()` merges all of them (`MultiProcessCollector`). The variable must be
set before the process starts (prometheus-client picks its value store at import) and the directory emptied
before the workers start, or counts from a previous run are added in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from gateway.metering.record import LedgerRecord
from gateway.metric_labels import KnownModels, ModelLabels, safe_label
from gateway.metrics_tally import MetricTally
from gateway.processes import is_alive

log = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Gateway overhead is sub-millisecond when healthy; whole requests include LLM calls of up to minutes.
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, *LLM_BUCKETS)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
TOKEN_KINDS = ("prompt", "completion", "reasoning", "cached")

M = TypeVar("M", Counter, Gauge, Histogram)


class _Children(Generic[M]):
    """Labelled children cached by label tuple: `labels()` converts, validates and locks on every call."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], M] = {}

    def get(self, *labels: str) -> M:
        child = self._cache.get(labels)
        if child is None:
            child = self._cache[labels] = self._metric.labels(*labels)
        return child


def forget_dead_workers(directory: str) -> None:
    """Drop the live-gauge files of processes that no longer exist.

    `live*` gauge modes rely on someone calling `mark_process_dead` when a worker exits; gunicorn has a hook
    for it, uvicorn's supervisor does not, so without this a worker that died mid-request would leave its
    in-flight count behind until the directory is wiped.
    """
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not is_alive(int(pid)):
            mark_process_dead(int(pid), directory)


class Metrics:
    """Owns the registry and every metric object; the only way the rest of the gateway touches Prometheus.

    `org_label=False` drops the `org` label from the per-request series (requests, cost, rate limits) for
    deployments with many orgs; budget series keep it, as budgets exist only for orgs an admin configured.
    Label values are folded here, never at call sites (see `gateway.metric_labels`): models outside the
    catalogue become `other`, and no value outside a plain charset, too long or secret-looking is ever printed.
    """

    def __init__(
        self, *, org_label: bool = True, multiprocess_dir: str | None = None, known_models: KnownModels | None = None
    ) -> None:
        self.org_label = org_label
        self.multiprocess_dir = multiprocess_dir
        self.models = ModelLabels(known_models)
        self._tally = MetricTally()
        self._registry = CollectorRegistry()
        target: CollectorRegistry | None = self._registry
        if multiprocess_dir is not None:
            if not getattr(values.ValueClass, "_multiprocess", False):
                log.warning("metrics_not_shared", reason=f"{MULTIPROC_ENV} was not set when prometheus_client "
                            "was imported; this process's own metrics will not be exported")
            MultiProcessCollector(self._registry, path=multiprocess_dir)
            target = None  # values live in the mmap files; registering the objects too would count them twice
        else:
            ProcessCollector(registry=self._registry)
            PlatformCollector(registry=self._registry)
            GCCollector(registry=self._registry)
        self._build(target)

    @classmethod
    def from_environment(cls, *, org_label: bool = True) -> Metrics:
        return cls(org_label=org_label, multiprocess_dir=os.environ.get(MULTIPROC_ENV) or None)

    def _build(self, registry: CollectorRegistry | None) -> None:
        org = ("org",) if self.org_label else ()
        self._requests = _Children(Counter("gateway_requests_total", "Requests handled, by final status.",
                                           ("route", "model", "status", *org), registry=registry))
        self._request_duration = _Children(Histogram(
            "gateway_request_duration_seconds", "Time from request to last byte sent.", ("route",),
            buckets=REQUEST_BUCKETS, registry=registry))
        self._upstream_duration = _Children(Histogram(
            "gateway_upstream_duration_seconds", "Time spent waiting on OpenRouter, retries included.", ("model",),
            buckets=LLM_BUCKETS, registry=registry))
        self._overhead = _Children(Histogram(
            "gateway_overhead_seconds", "Time the gateway itself added (total minus upstream).", ("route",),
            buckets=OVERHEAD_BUCKETS, registry=registry))
        self._ttft = _Children(Histogram(
            "gateway_time_to_first_token_seconds", "Time to the first streamed content.", ("model",),
            buckets=LLM_BUCKETS, registry=registry))
        self._tokens = _Children(Counter("gateway_tokens_total", "Tokens billed, by kind.", ("model", "kind"),
                                         registry=registry))
        self._cost = _Children(Counter("gateway_cost_usd_total", "Billed cost in USD (OpenRouter usage.cost).",
                                       ("model", *org), registry=registry))
        self._retries = _Children(Counter("gateway_retries_total", "Upstream retries.", ("model",),
                                          registry=registry))
        self._fallbacks = _Children(Counter("gateway_fallbacks_total", "Calls served by a fallback model.",
                                            ("from_model", "to_model"), registry=registry))
        self._cache = _Children(Counter("gateway_cache_total", "Response cache lookups.", ("result",),
                                        registry=registry))
        self._build_control(registry, org)

    def _build_control(self, registry: CollectorRegistry | None, org: tuple[str, ...]) -> None:
        # Gauge modes say how worker values combine: a live sum for in-flight requests, the worst live value
        # for states, the newest reading for a ratio every worker computes from the same Redis figures.
        self._circuit = _Children(Gauge("gateway_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
                                        ("model",), multiprocess_mode="livemax", registry=registry))
        self._rate_limited = _Children(Counter("gateway_rate_limited_total", "Requests refused by a rate limit.",
                                               (*org, "reason"), registry=registry))
        self._budget_rejections = _Children(Counter(
            "gateway_budget_rejections_total", "Requests refused by an exhausted budget.", ("org", "period"),
            registry=registry))
        self._budget_utilisation = _Children(Gauge(
            "gateway_budget_utilisation_ratio", "Spend over budget for the current period.", ("org", "period"),
            multiprocess_mode="livemostrecent", registry=registry))
        self._budget_alerts = _Children(Counter(
            "gateway_budget_alerts_total", "Budget thresholds crossed.", ("org", "period", "threshold"),
            registry=registry))
        self._in_flight = Gauge("gateway_in_flight_requests", "Requests being handled.",
                                multiprocess_mode="livesum", registry=registry)
        self._store_errors = _Children(Counter("gateway_store_errors_total", "Shared store (Redis) failures.",
                                               ("store", "operation"), registry=registry))
        self._store_degraded = Gauge("gateway_store_degraded", "1 while running without the shared store.",
                                     multiprocess_mode="livemax", registry=registry)
        self._ledger_errors = Counter("gateway_ledger_errors_total", "Ledger records that could not be written.",
                                      registry=registry)
        self._account_refusals = _Children(Counter(
            "gateway_upstream_account_refusals_total", "Calls OpenRouter refused on the gateway's own key or credits.",
            ("reason",), registry=registry))

    def render(self) -> tuple[bytes, str]:
        """The `/metrics` body and its content type."""
        self._tally.flush()
        if self.multiprocess_dir is not None:
            forget_dead_workers(self.multiprocess_dir)
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    def observe_call(self, record: LedgerRecord, *, route: str, upstream_s: float, overhead_s: float) -> None:
        """Everything a finished call contributes, in one call from the proxy's settle step.

        `model` is the model that served the call when known (a fallback's tokens and cost belong to it),
        else the routed one. Fallbacks count routed → served; retries count against the serving model.
        """
        model = self.models.label(record.model_served or record.model_routed)
        route = safe_label(route)
        org = (safe_label(record.org),) if self.org_label else ()
        tally = self._tally
        tally.inc(self._requests.get(route, model, str(record.status), *org))
        tally.observe(self._request_duration.get(route), record.latency_ms / 1000)
        tally.observe(self._overhead.get(route), max(overhead_s, 0.0))
        if upstream_s > 0:
            tally.observe(self._upstream_duration.get(model), upstream_s)
        if record.ttft_ms is not None:
            tally.observe(self._ttft.get(model), record.ttft_ms / 1000)
        for kind, count in zip(TOKEN_KINDS, (record.prompt_tokens, record.completion_tokens,
                                             record.reasoning_tokens, record.cached_tokens), strict=True):
            if count > 0:
                tally.inc(self._tokens.get(model, kind), count)
        if record.cost_usd > 0:
            tally.inc(self._cost.get(model, *org), record.cost_usd)
        if record.retries > 0:
            tally.inc(self._retries.get(model), record.retries)
        if record.fallbacks > 0 and record.model_served and record.model_served != record.model_routed:
            tally.inc(self._fallbacks.get(self.models.label(record.model_routed), model))
        if record.cache is not None:
            tally.inc(self._cache.get(safe_label(record.cache)))

    def flush(self) -> None:
        """Apply the per-call updates summed in memory (done a few ms after a call, and before every render)."""
        self._tally.flush()

    def circuit_state(self, model: str, state: int | str) -> None:
        """`state` is 0/1/2 or "closed"/"half_open"/"open"."""
        self._circuit.get(self.models.label(model)).set(CIRCUIT_STATES[state] if isinstance(state, str) else state)

    def rate_limited(self, org: str, reason: str) -> None:
        self._rate_limited.get(*((safe_label(org),) if self.org_label else ()), safe_label(reason)).inc()

    def budget_rejected(self, org: str, period: str) -> None:
        self._budget_rejections.get(safe_label(org), period).inc()

    def budget_utilisation(self, org: str, period: str, ratio: float) -> None:
        self._budget_utilisation.get(safe_label(org), period).set(ratio)

    def budget_alert(self, org: str, period: str, threshold: str) -> None:
        self._budget_alerts.get(safe_label(org), period, threshold).inc()

    def call_started(self) -> None:
        self._in_flight.inc()

    def call_finished(self) -> None:
        self._in_flight.dec()

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        self._in_flight.inc()
        try:
            yield
        finally:
            self._in_flight.dec()

    def store_error(self, store: str, operation: str) -> None:
        self._store_errors.get(store, operation).inc()

    def store_degraded(self, degraded: bool) -> None:
        self._store_degraded.set(1 if degraded else 0)

    def upstream_account_refused(self, reason: str) -> None:
        self._account_refusals.get(reason).inc()

    def ledger_error(self) -> None:
        """An ErrorHook for the ledgers."""
        self._ledger_errors.inc()
