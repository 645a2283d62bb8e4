"""The one stream relay with each tracker: what every stream of every API gets (deadline, cut, disconnect, end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import orjson
import pytest

from gateway.streaming.drain import StreamDrain
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streaming.relay import StreamDeadline, StreamTracker, relay_stream
from gateway.streaming.responses import ResponsesStreamTracker

CHAT_CHUNK = b'data: {"id":"gen-1","model":"m","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
RESPONSES_EVENT = (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi",'
                   b'"sequence_number":3}\n\n')


class Ends:
    def __init__(self) -> None:
        self.first = 0
        self.ended: list[tuple[Sequence[StreamTracker], bool]] = []

    def first_event(self) -> None:
        self.first += 1

    def done(self, trackers: Sequence[StreamTracker], cancelled: bool) -> None:
        self.ended.append((trackers, cancelled))


class Upstream(httpx.AsyncByteStream):
    """An upstream body that sends `chunk` every `gap_s`, `count` times, then fails or ends; records its closing."""

    def __init__(self, chunk: bytes, count: int, gap_s: float, fail: bool = False) -> None:
        self.chunk, self.count, self.gap_s, self.fail = chunk, count, gap_s, fail
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            await asyncio.sleep(self.gap_s)
            if self.closed:  # as aiohttp does: closing the response fails the pending read
                raise httpx.ReadError("Connection closed")
            yield self.chunk
        if self.fail:
            raise httpx.RemoteProtocolError("peer closed connection")

    async def aclose(self) -> None:
        self.closed = True


def _trackers() -> list[tuple[StreamTracker, bytes]]:
    return [(ChatStreamNormalizer(include_usage=False), CHAT_CHUNK), (ResponsesStreamTracker(), RESPONSES_EVENT)]


async def _relay(tracker: StreamTracker, upstream: Upstream, deadline_s: float | None) -> tuple[bytes, Ends]:
    ends = Ends()
    out = b"".join([part async for part in relay_stream(
        httpx.Response(200, stream=upstream), tracker, StreamDeadline(deadline_s), ends, StreamDrain())])
    return out, ends


@pytest.mark.parametrize(("tracker", "chunk"), _trackers(), ids=["chat", "responses"])
async def test_the_whole_request_deadline_cuts_every_api(tracker: StreamTracker, chunk: bytes) -> None:
    upstream = Upstream(chunk, count=50, gap_s=0.02)
    out, ends = await _relay(tracker, upstream, deadline_s=0.2)
    assert out.count(b'"hi"') < 20  # not the whole second of output
    assert b"upstream_timeout" in out.rsplit(b"\n\n", 2)[-2]  # the final event says why
    assert tracker.error is not None and tracker.error["code"] == "upstream_timeout"
    assert upstream.closed and ends.first == 1 and ends.ended == [((tracker,), False)]


@pytest.mark.parametrize(("tracker", "chunk"), _trackers(), ids=["chat", "responses"])
async def test_a_cut_upstream_ends_with_one_error_event(tracker: StreamTracker, chunk: bytes) -> None:
    out, ends = await _relay(tracker, Upstream(chunk, count=2, gap_s=0, fail=True), deadline_s=None)
    last = out.rsplit(b"\n\n", 2)[-2]
    assert b"upstream_stream_truncated" in last
    payload = orjson.loads(last.split(b"data: ", 1)[1])
    assert "error" in payload or payload["type"] == "error"
    assert tracker.usage is None and tracker.completion_chars == 4
    assert ends.ended[0][1] is False


@pytest.mark.parametrize(("tracker", "chunk"), _trackers(), ids=["chat", "responses"])
async def test_a_client_that_leaves_closes_the_upstream_and_settles_as_cancelled(
    tracker: StreamTracker, chunk: bytes
) -> None:
    upstream = Upstream(chunk, count=100, gap_s=0.01)
    ends = Ends()
    relay = relay_stream(httpx.Response(200, stream=upstream), tracker, StreamDeadline(None), ends, StreamDrain())
    assert b'"hi"' in await relay.__anext__()
    await relay.aclose()  # what Starlette does when the client disconnects
    assert upstream.closed
    assert ends.ended == [((tracker,), True)]


@pytest.mark.parametrize(("tracker", "chunk"), _trackers(), ids=["chat", "responses"])
async def test_shutdown_ends_open_streams_with_one_error_event_and_settles_them(
    tracker: StreamTracker, chunk: bytes
) -> None:
    drain, ends = StreamDrain(), Ends()
    upstream = Upstream(chunk, count=1000, gap_s=0.01)
    relay = relay_stream(httpx.Response(200, stream=upstream), tracker, StreamDeadline(None), ends, drain)
    first = await relay.__anext__()
    assert drain.open_count == 1
    assert await drain.stop_all() == 1
    rest = b"".join([part async for part in relay])
    assert b"server_shutting_down" in rest.rsplit(b"\n\n", 2)[-2]  # the final event says why
    assert b'"hi"' in first and upstream.closed and drain.open_count == 0
    assert tracker.error is not None and tracker.error["code"] == "server_shutting_down"
    assert ends.ended == [((tracker,), False)]  # settled as ended, not as a client that left
