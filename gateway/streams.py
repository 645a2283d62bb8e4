"""Relay OpenRouter SSE streams to the client chunk by chunk, normalised to OpenAI's shape; n>1 streams interleaved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

from gateway.streaming.merge import StreamMerger
from gateway.streaming.normalizer import ChatStreamNormalizer

StreamDone = Callable[[Sequence[ChatStreamNormalizer], bool], None]
"""Called once when a stream ends, however it ends: (normalizers, cancelled_by_client)."""



def _read_failure(normalizer: ChatStreamNormalizer, exc: httpx.HTTPError) -> bytes:
    if isinstance(exc, httpx.TimeoutException):
        return normalizer.abort("The upstream stream stalled past the idle timeout", code="upstream_timeout")
    return normalizer.abort("The upstream connection closed mid-stream", code="upstream_stream_truncated")


async def relay_stream(
    response: httpx.Response, normalizer: ChatStreamNormalizer, on_done: StreamDone
) -> AsyncIterator[bytes]:
    """Yield client bytes as upstream bytes arrive; closing the generator (client gone) closes upstream at once."""
    cancelled = True
    try:
        try:
            async for data in response.aiter_bytes():
                out = normalizer.feed(data)
                if out:
                    yield out
                if normalizer.done:
                    break
            tail = normalizer.finish()
        except httpx.HTTPError as exc:
            tail = _read_failure(normalizer, exc)
        if tail:
            yield tail
        cancelled = False
    finally:
        await response.aclose()
        on_done((normalizer,), cancelled)


async def _pump(
    index: int,
    response: httpx.Response,
    normalizer: ChatStreamNormalizer,
    queue: asyncio.Queue[tuple[int, bytes] | None],
) -> None:
    try:
        async for data in response.aiter_bytes():
            out = normalizer.feed(data)
            if out:
                queue.put_nowait((index, out))
            if normalizer.done or normalizer.error is not None:
                break
    except httpx.HTTPError as exc:
        queue.put_nowait((index, _read_failure(normalizer, exc)))
    finally:
        await response.aclose()
        queue.put_nowait(None)


async def relay_fanout(
    responses: Sequence[httpx.Response],
    normalizers: Sequence[ChatStreamNormalizer],
    merger: StreamMerger,
    on_done: StreamDone,
) -> AsyncIterator[bytes]:
    """n upstream streams, one per choice, interleaved as chunks arrive; one usage chunk and one [DONE] at the end."""
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    pumps = [
        asyncio.ensure_future(_pump(i, r, n, queue))
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
        on_done(normalizers, cancelled)
