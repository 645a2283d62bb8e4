"""Spans join the caller's trace (W3C `traceparent`) and carry what an experiment needs: prompt hash, tags, cost."""

from __future__ import annotations

from gateway.metering.tracing import build_tracer
from gateway.settings import Settings
from tests.metering.otlp_collector import Collector, attributes
from tests.metering.test_tracing import MODEL, finished
from tests.servers import serve

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def export(*calls: dict[str, object]) -> list:  # type: ignore[type-arg]
    """Record one finished call per `calls` entry (its kwargs for `record`) and return what the collector got."""
    collector = Collector()
    with serve(collector.app()) as server:
        tracer = build_tracer(Settings(otel_endpoint=f"{server.url}/v1/traces"))
        assert tracer is not None
        for kwargs in calls:
            record = kwargs.pop("record", None) or finished()
            tracer.record(record, route="chat.completions", **kwargs)  # type: ignore[arg-type]
        tracer.shutdown()
    return collector.spans()


def test_a_traceparent_makes_the_call_span_its_child_in_the_callers_trace() -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=value"}
    [span] = export({"trace_headers": headers})
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT_ID
    assert span.span_id.hex() != PARENT_ID and span.trace_state == "vendor=value"
    assert span.name == f"chat {MODEL}"


def test_without_or_with_a_malformed_traceparent_the_span_starts_its_own_trace() -> None:
    spans = export({}, {"trace_headers": {"traceparent": "00-nonsense-01"}},
                   {"trace_headers": {"traceparent": f"00-{'0' * 32}-{PARENT_ID}-01"}})  # all-zero id is invalid
    assert len(spans) == 3
    assert all(span.parent_span_id == b"" for span in spans)
    assert len({span.trace_id for span in spans}) == 3 and all(span.trace_id.hex() != TRACE_ID for span in spans)


def test_the_span_carries_prompt_hash_tags_org_cost_and_tokens() -> None:
    record = finished(tags={"run_id": "run-42", "session_id": "sess-7"}, cost_usd=0.00125)
    [span] = export({"record": record})
    values = attributes(span)
    assert values["gateway.prompt_sha256"] == record.prompt_sha256 and len(record.prompt_sha256) == 64
    assert values["gateway.tag.run_id"] == "run-42" and values["gateway.tag.session_id"] == "sess-7"
    assert values["session.id"] == "sess-7"  # Langfuse groups a session's traces by it
    assert values["gateway.org"] == "acme" and values["gen_ai.usage.cost"] == 0.00125
    assert (values["gen_ai.usage.input_tokens"], values["gen_ai.usage.output_tokens"]) == (12, 34)
