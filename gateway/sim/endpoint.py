"""The request path every generation API shares: log, authenticate, read knobs, admit, route, answer, settle.

`GenerationEndpoint.handle` does the common work once; each API (chat completions, responses, embeddings)
subclasses it and supplies its own hooks: how its body maps onto the chat-shaped body the planner reads
(`translate`), how the prompt is counted, which answer is planned and how it is written as JSON or SSE.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.sim.answers import Answer, last_user_text, plan_answer
from gateway.sim.attempts import Attempt, check_credits, check_known, requested_models, route
from gateway.sim.errors import SimError
from gateway.sim.exchange import Exchange
from gateway.sim.knobs import Knobs, read_knobs
from gateway.sim.routing import resolve
from gateway.sim.state import SimState, user_id_for
from gateway.sim.streaming import EventStream
from gateway.sim.tokenizer import count_prompt_tokens
from gateway.sim.validation import validate_request

JSON = "application/json"
_EXPOSE = "X-Generation-Id,X-Provider-Name"
Producer = Callable[[Send], Awaitable[bool]]


def error_response(error: SimError, api_key: str | None) -> Response:
    return Response(error.body(user_id_for(api_key)), error.status, error.headers or None, JSON)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SimError(400, "Invalid JSON in request body", {"error_type": "invalid_request"}) from exc
    if not isinstance(body, dict):
        raise SimError(400, "Request body must be a JSON object", {"error_type": "invalid_request"})
    return body


class DropConnection:
    """Starts a 200 response and returns without finishing it: uvicorn then closes the socket mid-body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", JSON.encode())]})


def delivery_fault(exchange: Exchange) -> tuple[str | int | None, int]:
    """The delivery-changing fault of the winning attempt (if any) and after how many tokens it fires."""
    fault = exchange.attempt.delivery_fault
    after = fault.error_after_tokens if fault and fault.error_after_tokens is not None else None
    return (fault.error if fault else None), (exchange.knobs.error_after_tokens if after is None else after)


async def json_delay(exchange: Exchange, kind: str | int | None) -> None:
    """A non-streamed answer arrives after the time its stream would have taken (plus a `stall`)."""
    knobs = exchange.knobs
    delay = knobs.ttft_ms + knobs.inter_token_ms * exchange.answer.completion_tokens
    if kind == "stall":
        delay += knobs.stall_ms
    if delay > 0:
        await asyncio.sleep(delay / 1000)


class GenerationEndpoint(ABC):
    """One generation API; subclasses override the hooks below `handle`."""

    api_type = "completions"

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
            body = await read_json(request)
            record["body"] = body
            knobs = read_knobs(body, headers, self.state.config)
            body = self.translate(body)
            cap = self.state.config.max_concurrency
            if cap and ledger.in_flight >= cap:
                raise SimError(429, "Rate limit exceeded: too many concurrent requests",
                               {"error_type": "rate_limit_exceeded"})
            ledger.in_flight += 1
            admitted = True
            exchange = self._plan(body, headers, knobs, record)
            streaming = exchange.streamed
            response = self._stream(exchange, api_key) if streaming else await self.render_json(exchange, api_key)
            record["status"] = response.status_code if isinstance(response, Response) else 200
            return response
        except SimError as error:
            record["status"] = error.status
            return error_response(error, api_key)
        finally:
            if admitted and not streaming:
                ledger.in_flight -= 1

    # Hooks -------------------------------------------------------------------------------------------

    def translate(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat-shaped body the validator, router and planner read (400s for API-specific misuse)."""
        return body

    def validate(self, body: dict[str, Any]) -> None:
        validate_request(body)

    def check_models(self, body: dict[str, Any], slugs: list[str]) -> None:  # noqa: B027 - optional hook
        """Refuse models this API cannot use (after the ids are known to exist); chat can use any."""

    def count_prompt(self, body: dict[str, Any]) -> int:
        return count_prompt_tokens(body)

    def flagged_text(self, body: dict[str, Any]) -> str:
        return last_user_text(body)[0]

    def plan(self, body: dict[str, Any], attempt: Attempt, knobs: Knobs) -> Answer:
        target = attempt.target
        answer = plan_answer(body, target.spec, target.variant, attempt.endpoint.dialect, knobs.completion_tokens)
        if knobs.tool_arguments == "omit":
            for call in answer.tool_calls:
                call["function"].pop("arguments", None)
        return answer

    @abstractmethod
    async def render_json(self, exchange: Exchange, api_key: str) -> ASGIApp:
        """The non-streaming answer."""

    def producer(self, exchange: Exchange, api_key: str) -> Producer:
        """The streaming answer's event producer; endpoints that stream override it (embeddings never do)."""
        raise SimError(400, "This endpoint does not support streaming", None)

    # Shared machinery --------------------------------------------------------------------------------

    def _plan(self, body: dict[str, Any], headers: Any, knobs: Knobs, record: dict[str, Any]) -> Exchange:
        self.validate(body)
        slugs = requested_models(body)
        check_known(self.state, slugs)
        self.check_models(body, slugs)
        record["requested_model"] = slugs[0]
        prompt_tokens = self.count_prompt(body)
        try:
            first = resolve(self.state.registry, slugs[0], body, prompt_tokens)
        except SimError:
            first = None  # the attempt loop reports it, possibly after a fallback answered
        if first is not None:
            check_credits(self.state, body, first, prompt_tokens)
        attempt = route(self.state, body, knobs, slugs, prompt_tokens, self.flagged_text(body))
        exchange = Exchange(
            state=self.state, record=record, attempt=attempt, answer=self.plan(body, attempt, knobs), knobs=knobs,
            body=body, headers=headers, prompt_tokens=prompt_tokens, generation_id=self.state.generation_id(),
            created=int(time.time()), streamed=body.get("stream") is True, api_type=self.api_type,
        )
        record.update(model=exchange.model, generation_id=exchange.generation_id, streamed=exchange.streamed)
        return exchange

    def headers(self, exchange: Exchange) -> dict[str, str]:
        return {"X-Generation-Id": exchange.generation_id, "X-Provider-Name": exchange.provider,
                "Access-Control-Expose-Headers": _EXPOSE}

    def json_response(self, exchange: Exchange, document: Any, status: int = 200) -> Response:
        return Response(orjson.dumps(document), status, self.headers(exchange), JSON)

    def _stream(self, exchange: Exchange, api_key: str) -> EventStream:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
                   (b"x-accel-buffering", b"no")]
        headers += [(name.lower().encode(), value.encode()) for name, value in self.headers(exchange).items()]
        ledger = self.state.ledger

        def on_cancel() -> None:
            exchange.settle("cancelled")

        def on_close() -> None:
            ledger.in_flight -= 1

        return EventStream(headers, self.producer(exchange, api_key), on_cancel, on_close)
