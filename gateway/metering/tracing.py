"""Optional OpenTelemetry traces: one CLIENT span per finished model call, with GenAI semantic-convention attributes.

The span is built from the finished `LedgerRecord`, after the fact, rather than opened around the call: every call
already ends in one record (success, error, cache hit, reconciled stream), so this sees exactly what the ledger sees,
and never holds request headers or message text because the attributes are picked from the record field by field.
The one header it is given is the caller's W3C `traceparent` (and `tracestate`), so the call's span becomes a child
of the caller's own span (a planner step inside an application's render trace, in Langfuse or Jaeger).

OpenTelemetry is an optional extra (`pip install gateway[otel]`), so this module imports none of it at load time:
with `GATEWAY_OTEL_ENDPOINT` unset nothing of it is imported and tracing costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.metering.record import LedgerRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.util.types import AttributeValue

    from gateway.settings import Settings

SYSTEM = "openrouter"
INSTRUMENTATION_NAME = "gateway"
# The Settler's endpoint names, mapped to `gen_ai.operation.name` values.
_OPERATIONS = {"chat.completions": "chat", "embeddings": "embeddings", "responses": "responses"}


def operation_name(route: str) -> str:
    return _OPERATIONS.get(route, route)


def call_attributes(record: LedgerRecord, *, route: str) -> dict[str, AttributeValue]:
    """The span's attributes. Picked field by field so the captured prompt (`record.prompt`) and the subject never
    leave the process; absent values are left out because OpenTelemetry rejects None. Tags (bounded in number and
    length when parsed) go out as `gateway.tag.<key>`; a `session_id` tag is also OpenTelemetry's `session.id`,
    which Langfuse groups traces by."""
    attributes: dict[str, AttributeValue | None] = {
        "gen_ai.operation.name": operation_name(route),
        "gen_ai.system": SYSTEM,
        "gen_ai.provider.name": SYSTEM,  # the current GenAI convention's name for `gen_ai.system`
        "gen_ai.request.model": record.model_routed,
        "gen_ai.response.model": record.model_served,
        "gen_ai.response.id": record.generation_id,
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
        "gen_ai.usage.cost": record.cost_usd,  # USD; Langfuse reads it as the generation's cost
        "gen_ai.request.temperature": record.temperature,
        "gen_ai.request.top_p": record.top_p,
        "gen_ai.request.max_tokens": record.max_tokens,
        "gen_ai.request.seed": record.seed,
        "gateway.request_id": record.request_id,
        "gateway.org": record.org,
        "gateway.prompt_sha256": record.prompt_sha256 or None,
        "session.id": record.tags.get("session_id"),
        "gateway.task": record.task,
        "gateway.model_requested": record.model_requested,
        "gateway.provider": record.provider,
        "gateway.cost_usd": record.cost_usd,
        "gateway.cost_source": record.cost_source,
        "gateway.retries": record.retries,
        "gateway.fallbacks": record.fallbacks,
        "gateway.cache": record.cache,
        "gateway.stream": record.stream,
        "gateway.ttft_ms": record.ttft_ms,
        "http.response.status_code": record.status,
        "error.type": record.error_type if record.status >= 400 else None,
    }
    for key, value in record.tags.items():
        attributes[f"gateway.tag.{key}"] = value
    return {name: value for name, value in attributes.items() if value is not None}


class CallTracer:
    """Turns finished calls into spans on its own `TracerProvider` (never the global one, so tests and embedders
    that run several apps in one process keep their traces apart)."""

    def __init__(self, provider: TracerProvider) -> None:
        # Optional dependency: imported only once a tracer is actually built (see the module docstring).
        from opentelemetry.trace import SpanKind, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._propagator = TraceContextTextMapPropagator()
        self._provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION_NAME)
        self._kind = SpanKind.CLIENT
        self._error = StatusCode.ERROR

    def record(
        self, record: LedgerRecord, *, route: str, end_ns: int | None = None,
        trace_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Emit one span for a finished call. It ends at `end_ns` (default now) and starts `latency_ms` earlier;
        the Settler passes the moment the call finished, since a reconciled stream is recorded seconds later.

        `trace_headers` are the request's W3C trace context headers (`traceparent`, optionally `tracestate`):
        a valid `traceparent` makes the span its child, in the caller's trace; a malformed one is ignored.
        """
        end = end_ns if end_ns is not None else time.time_ns()
        start = end - int(record.latency_ms * 1_000_000)
        parent = self._propagator.extract(dict(trace_headers)) if trace_headers else None
        span = self._tracer.start_span(
            f"{operation_name(route)} {record.model_routed}", context=parent, kind=self._kind,
            attributes=call_attributes(record, route=route), start_time=start,
        )
        if record.status >= 400:
            span.set_status(self._error, record.error_type or f"HTTP {record.status}")
        span.end(end_time=end)

    def shutdown(self) -> None:
        """Flush queued spans to the exporter and stop it; blocking, so async callers run it in a thread."""
        self._provider.shutdown()


def build_tracer(settings: Settings) -> CallTracer | None:
    """A tracer exporting OTLP/HTTP protobuf to `settings.otel_endpoint` in batches, or None when it is unset."""
    if not settings.otel_endpoint:
        return None
    # Optional dependency: imported here, not at module level, so the gateway runs without the `otel` extra.
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(
            "GATEWAY_OTEL_ENDPOINT is set but OpenTelemetry is not installed: pip install 'gateway[otel]'"
        ) from exc

    # shutdown_on_exit=False: the app's lifespan flushes it; an atexit hook would hold a reference to each provider.
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}),
                              shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
    return CallTracer(provider)
