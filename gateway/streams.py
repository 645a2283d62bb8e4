"""Relay OpenRouter SSE streams to the client chunk by chunk, normalised to OpenAI's shape; n>1 streams interleaved."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import httpx

from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer


class StreamObserver(Protocol):
    def first_event(self) -> None:
        """The first bytes went to the client."""

    def done(self, normalizers: Sequence[ChatStreamNormalizer], cancelled: bool) -> None:
        """Called once when the stream ends, however it ends (cancelled = the client left)."""


class StreamDeadline:
    """The wall-clock end of the whole request; the idle gap between chunks is the transport's read timeout."""

    def __init__(self, deadline_s: float | None) -> None:
        self.ends_at = time.monotonic() + deadline_s if deadline_s is not None else None

    def passed(self) -> bool:
        return self.ends_at is not None and time.monotonic() > self.ends_at


class _Stalled(Exception):
    """The request's deadline passed while the stream was still running."""


async def _chunks(response: httpx.Response, deadline: StreamDeadline) -> AsyncIterator[bytes]:
    async for data in response.aiter_bytes():
        if deadline.passed():
            raise _Stalled
        yield data


def _read_failure(normalizer: ChatStreamNormalizer, exc: Exception) -> bytes:
    if isinstance(exc, _Stalled | httpx.TimeoutException):
        return normalizer.abort("The upstream stream stalled past the gateway's timeout", code="upstream_timeout")
    return normalizer.abort("The upstream connection closed mid-stream", code="upstream_stream_truncated")


async def relay_stream(
    response: httpx.Response, normalizer: ChatStreamNormalizer, deadline: StreamDeadline, observer: StreamObserver
) -> AsyncIterator[bytes]:
    """Yield client bytes as upstream bytes arrive; closing the generator (client gone) closes upstream at once."""
    cancelled = True
    first = True
    try:
        try:
            async for data in _chunks(response, deadline):
                out = normalizer.feed(data)
                if out:
                    if first:
                        observer.first_event()
                        first = False
                    yield out
                if normalizer.done:
                    break
            tail = normalizer.finish()
        except (httpx.HTTPError, _Stalled) as exc:
            tail = _read_failure(normalizer, exc)
        if tail:
            yield tail
        cancelled = False
    finally:
        await response.aclose()
        observer.done((normalizer,), cancelled)


async def _pump(
    index: int,
    response: httpx.Response,
    normalizer: ChatStreamNormalizer,
    deadline: StreamDeadline,
    queue: asyncio.Queue[tuple[int, bytes] | None],
) -> None:
    try:
        async for data in _chunks(response, deadline):
            out = normalizer.feed(data)
            if out:
                queue.put_nowait((index, out))
            if normalizer.done or normalizer.error is not None:
                break
    except (httpx.HTTPError, _Stalled) as exc:
        queue.put_nowait((index, _read_failure(normalizer, exc)))
    finally:
        await response.aclose()
        queue.put_nowait(None)


async def relay_fanout(
    responses: Sequence[httpx.Response],
    normalizers: Sequence[ChatStreamNormalizer],
    merger: StreamMerger,
    deadline: StreamDeadline,
    observer: StreamObserver,
) -> AsyncIterator[bytes]:
    """n upstream streams, one per choice, interleaved as chunks arrive; one usage chunk and one [DONE] at the end."""
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    pumps = [
        asyncio.ensure_future(_pump(i, r, n, deadline, queue))
        for i, (r, n) in enumerate(zip(responses, normalizers, strict=True))
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
            if held is not None and index != 0 and normalizers[0].error is None and not normalizers[0].done:
                held.append(out)
                continue
            if held is not None:
                observer.first_event()
            yield out
            if any(n.error is not None for n in normalizers):
                break  # the error event is final: stop every other choice
            if held:
                yield b"".join(held)
            held = None
        else:
            tail = (b"".join(held) if held else b"") + merger.finish(normalizers)
            if tail:
                yield tail
        cancelled = False
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for response in responses:
            await response.aclose()
        observer.done(normalizers, cancelled)
