"""A stand-in OTLP/HTTP collector: records every POST to /v1/traces, to be served on a real socket."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Collector:
    """The content type and body of every export received."""

    posts: list[tuple[str, bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])

    async def _traces(self, request: Request) -> Response:
        self.posts.append((request.headers.get("content-type", ""), await request.body()))
        return Response(b"", media_type="application/x-protobuf")

    def spans(self) -> list[Span]:
        spans: list[Span] = []
        for _, body in self.posts:
            export = ExportTraceServiceRequest.FromString(body)
            spans.extend(span for resource in export.resource_spans for scope in resource.scope_spans
                         for span in scope.spans)
        return spans


def attributes(span: Span) -> dict[str, object]:
    """A decoded span's attributes as plain Python values."""
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes}
