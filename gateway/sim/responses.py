"""`POST /api/v1/responses`: OpenRouter's stateless Responses API over the chat simulator's machinery.

The request is translated to a chat body (`responses_input`), routed, planned, billed and settled exactly like a
chat completion, then written as a `response` object (`responses_body`) or its event stream
(`responses_stream`). `/generation` files it with `api_type: "completions"`, as OpenRouter does.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp

from gateway.sim.billing import usage_document
from gateway.sim.endpoint import JSON, DropConnection, GenerationEndpoint, Producer, delivery_fault, json_delay
from gateway.sim.errors import provider_error
from gateway.sim.exchange import Exchange
from gateway.sim.responses_body import (
    FAILED_ERROR,
    item_status,
    output_items,
    response_document,
    responses_usage,
)
from gateway.sim.responses_input import chat_body
from gateway.sim.responses_stream import ResponsesStreamProducer
from gateway.sim.state import user_id_for


class ResponsesEndpoint(GenerationEndpoint):
    def translate(self, body: dict[str, Any]) -> dict[str, Any]:
        return chat_body(body)

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
            # Failed after partial output: status "failed", partial text, nothing charged (§3.2).
            exchange.settle("error")
            usage = responses_usage(usage_document(exchange.prompt_tokens, 0, 0, 0, (0.0, 0.0, 0.0)))
            partial = "".join(exchange.answer.content[:after]).lstrip()
            output = output_items(exchange, partial)
            for item in output:
                item["status"] = "incomplete"
            document = response_document(exchange, "failed", output, usage, dict(FAILED_ERROR))
            return self.json_response(exchange, document)
        usage = exchange.usage()
        exchange.settle("completed", usage)
        document = response_document(exchange, item_status(exchange), output_items(exchange), responses_usage(usage))
        return self.json_response(exchange, document)

    def producer(self, exchange: Exchange, api_key: str) -> Producer:
        return ResponsesStreamProducer(exchange, api_key)
