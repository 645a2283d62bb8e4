"""The one stream relay: upstream SSE bytes to the client as they arrive, for every API (n>1 chat interleaved).

What an API does to its events lives in its tracker (the chat normaliser, the Responses tracker); what every
stream gets lives here, once: the first-byte moment, the whole-request deadline, a final error event when the
upstream fails, stalls or is cut, the upstream closed at once when the client leaves, and settlement at the end
(through `StreamEnd`), however it ends. The idle gap between chunks is the transport's read timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from gateway.streaming.drain import SHUTDOWN_CODE, SHUTDOWN_MESSAGE, StreamDrain

if TYPE_CHECKING:
    from gateway.metering.capture import ChoiceOutput

STALLED_MESSAGE = "The upstream stream stalled past the gateway's timeout"
CUT_MESSAGE = "The upstream connection closed mid-stream"


class StreamTracker(Protocol):
    """Sans-IO view of one upstream stream: bytes in, client bytes out, and what metering needs from them."""

    usage: dict[str, Any] | None
    error: dict[str, Any] | None  # the OpenAI error object sent to the client, if the stream failed
    model: str | None
    provider: str | None
    generation_id: str | None
    system_fingerprint: str | None
    done: bool  # the upstream's terminal event was seen: stop reading

    @property
    def completion_chars(self) -> int: ...

    def choice_output(self) -> ChoiceOutput:
        """How the stream's choice ended, and its text if the tracker was asked to keep it."""

    def feed(self, data: bytes) -> bytes:
        """Raw upstream bytes in; the bytes to send to the client now (often b"")."""

    def finish(self) -> bytes:
        """Upstream EOF: the last bytes to send (an error event if the stream never reached its end)."""

    def abort(self, message: str, code: str) -> bytes:
        """A gateway-side failure mid-stream: one final error event."""


class StreamEnd(Protocol):
    def first_event(self) -> None:
        """The first bytes went to the client."""

    def done(self, trackers: Sequence[StreamTracker], cancelled: bool) -> None:
        """Called once when the stream ends, however it ends (cancelled = the client left)."""


class StreamMerger(Protocol):
    def finish(self, trackers: Sequence[Any]) -> bytes:
        """The tail of n interleaved streams once all have ended (summed usage, one terminal frame)."""


class StreamDeadline:
    """The wall-clock end of the whole request (`time.monotonic()`), or None for no limit."""

    def __init__(self, deadline_s: float | None) -> None:
        self.ends_at = time.monotonic() + deadline_s if deadline_s is not None else None


class _Stalled(Exception):
    """The request's deadline passed while the stream was still running."""


def _read_failure(tracker: StreamTracker, exc: Exception, drain: StreamDrain) -> bytes:
    if drain.stopping:  # the server closed the upstream itself: say why, not that the upstream failed
        return tracker.abort(SHUTDOWN_MESSAGE, SHUTDOWN_CODE)
    if isinstance(exc, _Stalled | httpx.TimeoutException):
        return tracker.abort(STALLED_MESSAGE, "upstream_timeout")
    return tracker.abort(CUT_MESSAGE, "upstream_stream_truncated")


async def relay_stream(
    response: httpx.Response, tracker: StreamTracker, deadline: StreamDeadline, end: StreamEnd, drain: StreamDrain
) -> AsyncIterator[bytes]:
    """Yield client bytes as upstream bytes arrive; closing the generator (client gone) closes upstream at once."""
    cancelled = True
    first = True
    ends_at = deadline.ends_at
    drain.opened(response)
    try:
        try:
            async for data in response.aiter_bytes():
                if ends_at is not None and time.monotonic() > ends_at:  # inline: no extra frame per chunk
                    raise _Stalled
                out = tracker.feed(data)
                if out:
                    if first:
                        end.first_event()
                        first = False
                    yield out
                if tracker.done:
                    break
            tail = tracker.finish()
        except (httpx.HTTPError, _Stalled) as exc:
            tail = _read_failure(tracker, exc, drain)
        if tail:
            yield tail
        cancelled = False
    finally:
        drain.closed(response)
        await response.aclose()
        end.done((tracker,), cancelled)


async def _pump(
    index: int,
    response: httpx.Response,
    tracker: StreamTracker,
    deadline: StreamDeadline,
    queue: asyncio.Queue[tuple[int, bytes] | None],
    drain: StreamDrain,
) -> None:
    ends_at = deadline.ends_at
    try:
        async for data in response.aiter_bytes():
            if ends_at is not None and time.monotonic() > ends_at:
                raise _Stalled
            out = tracker.feed(data)
            if out:
                queue.put_nowait((index, out))
            if tracker.done or tracker.error is not None:
                break
    except (httpx.HTTPError, _Stalled) as exc:
        queue.put_nowait((index, _read_failure(tracker, exc, drain)))
    finally:
        drain.closed(response)
        await response.aclose()
        queue.put_nowait(None)


async def relay_fanout(
    responses: Sequence[httpx.Response],
    trackers: Sequence[StreamTracker],
    merger: StreamMerger,
    deadline: StreamDeadline,
    end: StreamEnd,
    drain: StreamDrain,
) -> AsyncIterator[bytes]:
    """n upstream streams, one per choice, interleaved as chunks arrive; one usage chunk and one [DONE] at the end."""
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    for response in responses:
        drain.opened(response)
    pumps = [
        asyncio.ensure_future(_pump(i, r, t, deadline, queue, drain))
        for i, (r, t) in enumerate(zip(responses, trackers, strict=True))
    ]
    # SDK stream accumulators append choices in arrival order: hold other choices until choice 0 has begun.
    held: list[bytes] | None = []
    cancelled = True
    try:
        remaining = len(pumps)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
                continue
            index, out = item
            if held is not None and index != 0 and trackers[0].error is None and not trackers[0].done:
                held.append(out)
                continue
            if held is not None:
                end.first_event()
            yield out
            if any(t.error is not None for t in trackers):
                break  # the error event is final: stop every other choice
            if held:
                yield b"".join(held)
            held = None
        else:
            tail = (b"".join(held) if held else b"") + merger.finish(trackers)
            if tail:
                yield tail
        cancelled = False
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for response in responses:
            await response.aclose()
        end.done(trackers, cancelled)
