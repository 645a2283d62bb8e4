"""Pure ASGI middleware: request id, body size limit, the one top-level error handler, the access log line."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, PayloadTooLargeError
from gateway.log import redact_text, write_access_line

log = structlog.get_logger("gateway.access")

_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
LOG_FIELDS_KEY = "gateway.log"  # scope key: handlers add fields for the access line here


def _request_id(scope: Scope) -> bytes:
    """The client's own id when it is sane and holds no secret (a JWT or key fits the charset), else a new one.

    The id is echoed, logged and stored in the ledger, so a credential sent as an id must never be kept.
    """
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _SANE_REQUEST_ID.match(value):
            text = value.decode()
            if redact_text(text) == text:
                return value
    return os.urandom(16).hex().encode()  # a uuid4 without the UUID object: same entropy, a third of the cost


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


Endpoint = Callable[[Request], Awaitable[Response]]


class RequestContextMiddleware:
    """`direct_routes` ((method, path) → endpoint) are called from here instead of through Starlette's exception
    middleware, router and request/response wrappers: the model endpoints raise only GatewayError, which this
    middleware renders, so those layers add nothing to them but five more frames to every await on the hot path.
    Everything else (and these paths under a root_path) goes through the Starlette app as usual."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool = True,
        direct_routes: Mapping[tuple[str, str], Endpoint] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.direct_routes = dict(direct_routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = _request_id(scope)
        # Every log line of this request (and of the tasks it spawns, which copy the context) names it.
        structlog.contextvars.bind_contextvars(request_id=request_id.decode())
        fields: dict[str, Any] = {}
        scope[LOG_FIELDS_KEY] = fields
        scope["gateway.request_id"] = request_id.decode()
        status = 0
        response_started = False
        limit = self.max_body_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                raise PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes")
            endpoint = self.direct_routes.get((scope["method"], scope["path"]))
            if endpoint is None:
                await self.app(scope, limited_receive, send_with_id)
            else:
                response = await endpoint(Request(scope, limited_receive))
                await response(scope, limited_receive, send_with_id)
        except GatewayError as exc:
            if response_started:
                raise
            fields.setdefault("error_type", exc.type)
            await send_error(send_with_id, exc)
        except ClientDisconnect:
            # Gone before its body was read (or cut by the edge's body timeout, which answered it): nobody to tell.
            fields.setdefault("error_type", "client_disconnected")
        except Exception:  # the one top-level handler: anything unexpected becomes a 500 envelope
            log.exception("unhandled_error", request_id=request_id.decode(), path=scope["path"])
            if response_started:
                raise
            await send_error(send_with_id, GatewayError("Internal gateway error", code="internal_error"))
        finally:
            if self.access_log:
                write_access_line({
                    "request_id": request_id.decode(),
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started_at) * 1000, 3),
                    **fields,
                })


async def send_error(send: Send, error: GatewayError) -> None:
    body = error.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
