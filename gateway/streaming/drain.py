"""Ending open streams cleanly when the server shuts down before they finish.

uvicorn waits `--graceful-timeout` seconds for in-flight responses after SIGTERM, then cancels them: a client
then sees a chunked body cut mid-event, and the call's settlement races the process's exit. Instead, a little
before that grace period runs out, every stream still open has its upstream connection closed; the relay sees
the read fail, sends one final SSE error event (`server_shutting_down`) and ends, so the response completes,
the call is settled from what was streamed, and shutdown's drain records it before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

SHUTDOWN_MESSAGE = "The gateway is shutting down; the stream ended early. Retry the request."
SHUTDOWN_CODE = "server_shutting_down"
# How long before the end of uvicorn's grace period the streams are ended: time for the final events to be
# written and the responses to complete, so uvicorn has nothing left to cancel.
_MARGIN_S = 1.0


class Closable(Protocol):
    async def aclose(self) -> None: ...


class StreamDrain:
    """The upstream responses of the streams being relayed now, and whether the server is ending them."""

    def __init__(self) -> None:
        self._open: set[Closable] = set()
        self.stopping = False

    def opened(self, response: Closable) -> None:
        self._open.add(response)

    def closed(self, response: Closable) -> None:
        self._open.discard(response)

    @property
    def open_count(self) -> int:
        return len(self._open)

    async def stop_all(self) -> int:
        """Close every open stream's upstream: each relay then ends with the shutdown error event."""
        self.stopping = True
        streams = list(self._open)
        if streams:
            log.warning("streams_ended_by_shutdown", count=len(streams))
        await asyncio.gather(*(stream.aclose() for stream in streams), return_exceptions=True)
        return len(streams)

    def watch_signals(self, loop: asyncio.AbstractEventLoop, grace_s: float | None) -> None:
        """On SIGTERM/SIGINT, end open streams `_MARGIN_S` before the server's grace period runs out.

        The server's own handlers (uvicorn's) still run: this one is chained in front of them. Signals can only be
        handled in the main thread, so a gateway run in a thread (tests) skips this, as it has no signals anyway.
        """
        if grace_s is None or threading.current_thread() is not threading.main_thread():
            return
        delay = max(grace_s - _MARGIN_S, grace_s / 2)

        def schedule() -> None:
            loop.call_later(delay, lambda: loop.create_task(self.stop_all()))

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            signal.signal(signum, _chained(previous, lambda: loop.call_soon_threadsafe(schedule)))


def _chained(previous: Any, first: Callable[[], None]) -> Callable[[int, FrameType | None], None]:
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:  # a second signal (forced exit) must not schedule again
            fired = True
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing left to end
                first()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:  # nobody else handles it: the default action, as if we were not here
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    return handler
