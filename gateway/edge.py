"""Limits at the edge: uvicorn's httptools protocol with the timeouts and bounds it lacks.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but never times out a connection that has not
finished its request: a socket that never sends a byte, a slowloris sending one header byte a second or a body that
trickles in hold a file descriptor (and a task) for ever, and httptools accepts headers of any size and number.
This protocol adds, per connection and with timer handles only (no task, nothing per byte but a length sum):

- header timeout: from the connection's first moment (or a keep-alive request's first byte) to the end of the
  request headers; a silent connection is closed, a slow one gets a 408 and is closed;
- body timeout: from the end of the headers to the end of the body; a 408 (if no answer has started) and close;
- header size and count: a request whose header section grows past the limit gets a 431 and is closed;
- concurrency: over `max_concurrent_requests` requests in this worker, a request is answered at once with a 503 in
  OpenAI's error envelope (uvicorn's own limit answers in plain text and counts idle connections too).

The limits come from the settings (GATEWAY_HEADER_TIMEOUT_S, ...), read once per worker process.
"""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.settings import Settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    max_concurrent_requests: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        return cls(settings.header_timeout_s, settings.body_timeout_s, settings.max_header_bytes,
                   settings.max_headers, settings.max_concurrent_requests)


@functools.cache
def environment_limits() -> EdgeLimits:
    """Read once per worker: the protocol is built by uvicorn per connection, with no way to pass settings in."""
    return EdgeLimits.from_settings(Settings())


def _envelope(status: int, message: str, code: str) -> bytes:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    body = orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"x-request-id: " + os.urandom(16).hex().encode(),
        b"connection: close",
    ]
    if status == 503:
        head.append(b"retry-after: 1")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _HeadersTooLarge(Exception):
    pass


async def _overloaded(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app a request over the concurrency cap gets instead of the gateway."""
    message = "The gateway is at its concurrency limit; retry shortly."
    body = orjson.dumps({"error": {"message": message, "type": "api_error", "param": None, "code": "overloaded"}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", b"1"), (b"x-request-id", os.urandom(16).hex().encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeProtocol(HttpToolsProtocol):
    """`gateway serve` runs uvicorn with `http=EdgeProtocol`; everything else is uvicorn's httptools protocol.

    Deadlines are lazy: a request only stores when its current phase must end (a float), and one timer per
    connection, armed only when none is pending, checks it and re-arms itself for a deadline that moved on. A
    keep-alive request therefore costs a few clock reads and comparisons, not a timer created and cancelled.
    """

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.edge = environment_limits()
        self.limit_concurrency = None  # ours answers in OpenAI's envelope and counts requests, not connections
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._phase: str | None = None  # "headers" or "body" while a deadline runs
        self._deadline = 0.0
        self._in_headers = False
        self._header_bytes = 0  # bytes received while a request's headers are incomplete (bounds httptools' buffer)
        self._received_any = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start("headers", self.edge.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        self._received_any = True
        if self._in_headers or self.cycle is None or self.cycle.response_complete:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            super().data_received(b"")  # uvicorn's own upgrade handling; this gateway serves no websockets
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadersTooLarge):
                self._refuse(431, "Request headers are too large or too many.", "headers_too_large")
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_headers and self._header_bytes > self.edge.max_header_bytes:
            self._refuse(431, "Request headers are too large or too many.", "headers_too_large")

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._phase != "headers":  # a keep-alive connection's next request: its headers get the same deadline
            self._start("headers", self.edge.header_timeout_s)

    def on_headers_complete(self) -> None:
        # Headers that arrived whole in one read are measured here; ones still arriving, in data_received.
        if len(self.headers) > self.edge.max_headers or (
            len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > self.edge.max_header_bytes
        ):
            raise _HeadersTooLarge
        self._in_headers = False
        self._header_bytes = 0
        self._start("body", self.edge.body_timeout_s)
        if len(self.tasks) < self.edge.max_concurrent_requests:
            super().on_headers_complete()
            return
        app, self.app = self.app, _overloaded
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        self._phase = None
        super().on_message_complete()

    # Deadlines
    def _start(self, phase: str, delay_s: float) -> None:
        if delay_s <= 0:
            self._phase = None
            return
        self._phase = phase
        self._deadline = self.loop.time() + delay_s
        if self._timer is None or self._deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = self._deadline
            self._timer = self.loop.call_at(self._deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._phase is None or self.transport.is_closing():
            return
        if self.loop.time() < self._deadline:  # the deadline moved on since this timer was armed
            self._timer_at = self._deadline
            self._timer = self.loop.call_at(self._deadline, self._check)
            return
        phase, self._phase = self._phase, None
        if phase == "headers":
            self._headers_late()
        else:
            self._body_late()

    def _headers_late(self) -> None:
        if not self._received_any:
            self.transport.close()  # never sent a byte: nobody to answer
        else:
            self._refuse(408, "The request headers were not received in time.", "request_timeout")

    def _body_late(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the app reads a disconnect and whatever it still sends is dropped
            cycle.message_event.set()
            self._refuse(408, "The request body was not received in time.", "request_timeout")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str, code: str) -> None:
        self._phase = None
        if not self.transport.is_closing():
            self.transport.write(_envelope(status, message, code))
            self.transport.close()
