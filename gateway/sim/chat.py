"""`POST /api/v1/chat/completions`: the chat-shaped answer as JSON (with in-band faults) or SSE."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp

from gateway.sim.billing import usage_document
from gateway.sim.completion import completion_body, partial_body
from gateway.sim.endpoint import (
    JSON,
    DropConnection,
    GenerationEndpoint,
    Producer,
    delivery_fault,
    error_response,
    json_delay,
)
from gateway.sim.errors import provider_error
from gateway.sim.exchange import Exchange
from gateway.sim.state import user_id_for
from gateway.sim.streaming import StreamProducer

__all__ = ["ChatEndpoint", "error_response"]


class ChatEndpoint(GenerationEndpoint):
    async def render_json(self, exchange: Exchange, api_key: str) -> ASGIApp:
        kind, after = delivery_fault(exchange)
        await json_delay(exchange, kind)
        if kind == "disconnect":
            exchange.settle("error")
            return DropConnection()
        if kind == "error_in_200":
            exchange.settle("error")
            error = provider_error(502, exchange.provider, "upstream returned an empty response")
            return Response(error.body(user_id_for(api_key)), 200, self.headers(exchange), JSON)
        if kind in ("partial_200", "mid_stream", "mid_stream_legacy"):
            # Zero-completion insurance: a failed answer is not charged (OPENROUTER.md §3.2).
            exchange.settle("error")
            usage = usage_document(exchange.prompt_tokens, 0, 0, 0, (0.0, 0.0, 0.0))
            return self.json_response(exchange, partial_body(exchange, after, usage))
        usage = exchange.usage()
        exchange.settle("completed", usage)
        return self.json_response(exchange, completion_body(exchange, usage))

    def producer(self, exchange: Exchange, api_key: str) -> Producer:
        return StreamProducer(exchange, api_key)
