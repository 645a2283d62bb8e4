"""One OpenTelemetry span per finished call, with GenAI attributes, and OTLP/HTTP export to a real collector socket."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.metering.tracing import CallTracer, build_tracer
from gateway.settings import Settings
from tests.metering.conftest import make_record
from tests.metering.otlp_collector import Collector, attributes
from tests.servers import serve

MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[CallTracer]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = CallTracer(provider)
    yield tracer
    tracer.shutdown()


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0]


def finished(**changes: object):
    values: dict[str, object] = {
        "model_served": "openai/gpt-4o-mini-2024-07-18", "provider": "OpenAI", "generation_id": "gen-123",
        "prompt_tokens": 12, "completion_tokens": 34, "cost_usd": 0.00042, "latency_ms": 250.0, "status": 200,
        "retries": 1, "fallbacks": 0, "max_tokens": 64, "seed": 7,
    }
    values.update(changes)
    return make_record(**values)


def test_a_call_is_one_client_span_named_after_operation_and_model(
    tracer: CallTracer, exporter: InMemorySpanExporter
) -> None:
    record = finished()
    tracer.record(record, route="chat.completions")

    span = only_span(exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openrouter",
        "gen_ai.provider.name": "openrouter",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": "openai/gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "gen-123",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.usage.cost": 0.00042,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.seed": 7,
        "gateway.request_id": record.request_id,
        "gateway.org": "acme",
        "gateway.prompt_sha256": record.prompt_sha256,
        "gateway.task": "summarise",
        "gateway.model_requested": "summarise",
        "gateway.provider": "OpenAI",
        "gateway.cost_usd": 0.00042,
        "gateway.cost_source": "usage",
        "gateway.retries": 1,
        "gateway.fallbacks": 0,
        "gateway.stream": False,
        "http.response.status_code": 200,
    }


def test_span_lasts_the_call_latency_and_ends_now(tracer: CallTracer, exporter: InMemorySpanExporter) -> None:
    before = time.time_ns()
    tracer.record(finished(latency_ms=1234.5), route="chat.completions")
    after = time.time_ns()

    span = only_span(exporter)
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time - span.start_time == pytest.approx(1234.5e6, abs=1e3)
    assert before <= span.end_time <= after


def test_span_can_end_when_the_call_ended(tracer: CallTracer, exporter: InMemorySpanExporter) -> None:
    """A reconciled stream is recorded seconds after it finished; its span still covers the call itself."""
    ended = time.time_ns() - 5_000_000_000
    tracer.record(finished(latency_ms=100.0), route="chat.completions", end_ns=ended)

    span = only_span(exporter)
    assert (span.start_time, span.end_time) == (ended - 100_000_000, ended)


def test_upstream_error_marks_the_span_as_error(tracer: CallTracer, exporter: InMemorySpanExporter) -> None:
    tracer.record(finished(status=502, error_type="upstream_error", model_served=None, generation_id=None,
                           completion_tokens=0), route="chat.completions")

    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "upstream_error"
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 502
    assert attributes["error.type"] == "upstream_error"
    assert "gen_ai.response.model" not in attributes
    assert "gen_ai.response.id" not in attributes


@pytest.mark.parametrize(("route", "operation"), [("embeddings", "embeddings"), ("responses", "responses")])
def test_operation_follows_the_endpoint(
    tracer: CallTracer, exporter: InMemorySpanExporter, route: str, operation: str
) -> None:
    tracer.record(finished(), route=route)

    span = only_span(exporter)
    assert span.name == f"{operation} {MODEL}"
    assert (span.attributes or {})["gen_ai.operation.name"] == operation


def test_cache_hit_is_labelled(tracer: CallTracer, exporter: InMemorySpanExporter) -> None:
    tracer.record(finished(cache="hit", cost_usd=0.0), route="chat.completions")

    assert (only_span(exporter).attributes or {})["gateway.cache"] == "hit"


def test_captured_prompt_and_subject_never_reach_the_span(tracer: CallTracer, exporter: InMemorySpanExporter) -> None:
    secret = "my-card-number-is-4111"
    record = finished(subject="alice@example.com", tags={"team": "search"})
    record.prompt = f'[{{"role":"user","content":"{secret}"}}]'
    tracer.record(record, route="chat.completions")

    span = only_span(exporter)
    values = [str(value) for value in (span.attributes or {}).values()]
    assert values
    assert not [value for value in values if secret in value or "alice@example.com" in value]
    assert secret not in span.name


def test_no_endpoint_no_tracer_and_no_opentelemetry_import() -> None:
    assert build_tracer(Settings()) is None
    # In a fresh interpreter: building the whole app without an endpoint loads neither the tracing SDK nor the
    # exporter. (Not "no opentelemetry at all": redis-py imports the API and metrics SDK itself when installed.)
    code = (
        "import sys\n"
        "from gateway.app import create_app\n"
        "from gateway.settings import Settings\n"
        "create_app(Settings())\n"
        "prefixes = ('opentelemetry.sdk.trace', 'opentelemetry.exporter')\n"
        "loaded = [name for name in sys.modules if name.startswith(prefixes)]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_build_tracer_exports_otlp_protobuf_over_http() -> None:
    collector = Collector()
    with serve(collector.app()) as server:
        tracer = build_tracer(Settings(otel_endpoint=f"{server.url}/v1/traces", otel_service_name="gw-test"))
        assert tracer is not None
        tracer.record(finished(), route="chat.completions")
        assert collector.posts == []  # batched: nothing is sent on the calling thread
        tracer.shutdown()

    assert len(collector.posts) == 1
    content_type, body = collector.posts[0]
    assert content_type == "application/x-protobuf"
    assert MODEL.encode() in body
    assert b"gen_ai.request.model" in body
    assert b"gw-test" in body
    [span] = collector.spans()
    assert span.name == f"chat {MODEL}"
    assert attributes(span)["gen_ai.usage.output_tokens"] == 34


def test_an_endpoint_without_the_otel_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes that import fail, as it does where the extra is not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(RuntimeError, match=r"pip install 'gateway\[otel\]'"):
        build_tracer(Settings(otel_endpoint="http://127.0.0.1:4318/v1/traces"))
