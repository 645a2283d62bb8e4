"""`POST /api/v1/chat/completions`: authenticate, validate, route, answer as JSON or SSE, settle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.sim.answers import last_user_text, plan_answer
from gateway.sim.attempts import check_credits, check_known, requested_models, route
from gateway.sim.billing import usage_document
from gateway.sim.completion import completion_body, partial_body
from gateway.sim.errors import SimError, provider_error
from gateway.sim.exchange import Exchange
from gateway.sim.knobs import Knobs, read_knobs
from gateway.sim.routing import resolve
from gateway.sim.state import SimState, user_id_for
from gateway.sim.streaming import EventStream, StreamProducer
from gateway.sim.tokenizer import count_prompt_tokens
from gateway.sim.validation import validate_request

JSON = "application/json"
_EXPOSE = "X-Generation-Id,X-Provider-Name"


def error_response(error: SimError, api_key: str | None) -> Response:
    return Response(error.body(user_id_for(api_key)), error.status, error.headers or None, JSON)


async def _read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SimError(400, "Invalid JSON in request body", {"error_type": "invalid_request"}) from exc
    if not isinstance(body, dict):
        raise SimError(400, "Request body must be a JSON object", {"error_type": "invalid_request"})
    return body


class _DropConnection:
    """Starts a 200 response and returns without finishing it: uvicorn then closes the socket mid-body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", JSON.encode())]})


class ChatEndpoint:
    def __init__(self, state: SimState) -> None:
        self.state = state

    async def handle(self, request: Request) -> ASGIApp:
        ledger = self.state.ledger
        ledger.requests_total += 1
        # One pass over the raw headers gives both the lookup table and the request-log copy.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.scope["headers"]}
        record: dict[str, Any] = {
            "path": request.scope["path"], "method": request.method, "headers": headers, "body": None,
            "status": None, "model": None, "generation_id": None, "cost": None, "streamed": False,
            "cancelled": False,
        }
        ledger.requests.append(record)
        api_key: str | None = None
        admitted = streaming = False
        try:
            api_key = self.state.authenticate(headers.get("authorization"))
            body = await _read_json(request)
            record["body"] = body
            knobs = read_knobs(body, headers, self.state.config)
            cap = self.state.config.max_concurrency
            if cap and ledger.in_flight >= cap:
                raise SimError(429, "Rate limit exceeded: too many concurrent requests",
                               {"error_type": "rate_limit_exceeded"})
            ledger.in_flight += 1
            admitted = True
            exchange = self._plan(body, headers, knobs, record)
            streaming = exchange.streamed
            response = self._stream(exchange, api_key, record) if streaming else await self._json(exchange, api_key)
            record["status"] = response.status_code if isinstance(response, Response) else 200
            return response
        except SimError as error:
            record["status"] = error.status
            return error_response(error, api_key)
        finally:
            if admitted and not streaming:
                ledger.in_flight -= 1

    def _plan(self, body: dict[str, Any], headers: Any, knobs: Knobs, record: dict[str, Any]) -> Exchange:
        validate_request(body)
        slugs = requested_models(body)
        check_known(self.state, slugs)
        record["requested_model"] = slugs[0]
        prompt_tokens = count_prompt_tokens(body)
        try:
            first = resolve(self.state.registry, slugs[0], body, prompt_tokens)
        except SimError:
            first = None  # the attempt loop reports it, possibly after a fallback answered
        if first is not None:
            check_credits(self.state, body, first, prompt_tokens)
        attempt = route(self.state, body, knobs, slugs, prompt_tokens, last_user_text(body)[0])
        target = attempt.target
        answer = plan_answer(body, target.spec, target.variant, attempt.endpoint.dialect, knobs.completion_tokens)
        exchange = Exchange(
            state=self.state, record=record, attempt=attempt, answer=answer, knobs=knobs, body=body,
            headers=headers, prompt_tokens=prompt_tokens, generation_id=self.state.generation_id(),
            created=int(time.time()), streamed=body.get("stream") is True,
        )
        record.update(model=exchange.model, generation_id=exchange.generation_id, streamed=exchange.streamed)
        return exchange

    def _headers(self, exchange: Exchange) -> dict[str, str]:
        return {"X-Generation-Id": exchange.generation_id, "X-Provider-Name": exchange.provider,
                "Access-Control-Expose-Headers": _EXPOSE}

    async def _json(self, exchange: Exchange, api_key: str) -> ASGIApp:
        knobs = exchange.knobs
        fault = exchange.attempt.delivery_fault
        kind = fault.error if fault else None
        after = fault.error_after_tokens if fault and fault.error_after_tokens is not None else knobs.error_after_tokens
        delay = knobs.ttft_ms + knobs.inter_token_ms * exchange.answer.completion_tokens
        if kind == "stall":
            delay += knobs.stall_ms
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if kind == "disconnect":
            exchange.settle("error")
            return _DropConnection()
        if kind == "error_in_200":
            exchange.settle("error")
            error = provider_error(502, exchange.provider, "upstream returned an empty response")
            return Response(error.body(user_id_for(api_key)), 200, self._headers(exchange), JSON)
        if kind in ("partial_200", "mid_stream", "mid_stream_legacy"):
            # Zero-completion insurance: a failed answer is not charged (OPENROUTER.md §3.2).
            exchange.settle("error")
            usage = usage_document(exchange.prompt_tokens, 0, 0, 0, (0.0, 0.0, 0.0))
            document = partial_body(exchange, after, usage)
            return Response(orjson.dumps(document), 200, self._headers(exchange), JSON)
        usage = exchange.usage()
        exchange.settle("completed", usage)
        return Response(orjson.dumps(completion_body(exchange, usage)), 200, self._headers(exchange), JSON)

    def _stream(self, exchange: Exchange, api_key: str, record: dict[str, Any]) -> EventStream:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
                   (b"x-accel-buffering", b"no")]
        headers += [(name.lower().encode(), value.encode()) for name, value in self._headers(exchange).items()]
        ledger = self.state.ledger

        def on_cancel() -> None:
            exchange.settle("cancelled")

        def on_close() -> None:
            ledger.in_flight -= 1

        return EventStream(headers, StreamProducer(exchange, api_key), on_cancel, on_close)
