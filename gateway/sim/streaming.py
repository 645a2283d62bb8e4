"""The SSE side of a chat completion: chunk shapes, pacing, injected stream faults, cancellation.

`EventStream` is a raw ASGI response that runs the producer next to a disconnect watcher: uvicorn silently
drops writes to a closed connection, so without the watcher a cancelled stream would "finish" unnoticed and
be billed in full. When the client goes away the producer task is cancelled at its next await and the
exchange is settled as cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from gateway.sim.completion import MID_STREAM_ERROR, stream_error
from gateway.sim.exchange import Exchange
from gateway.sim.state import user_id_for
from gateway.sim.tokenizer import count_tokens, split_tokens

PROCESSING = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"


class EventStream:
    """ASGI response: start, then `produce` (True = finished cleanly, False = drop the connection)."""

    def __init__(self, headers: list[tuple[bytes, bytes]], produce: Callable[[Send], Awaitable[bool]],
                 on_cancel: Callable[[], None], on_close: Callable[[], None]) -> None:
        self.headers = headers
        self.produce = produce
        self.on_cancel = on_cancel
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            producer = asyncio.ensure_future(self.produce(send))
            watcher = asyncio.ensure_future(_until_disconnect(receive))
            try:
                await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
                if not producer.done():
                    producer.cancel()
                    self.on_cancel()
                    await asyncio.gather(producer, return_exceptions=True)
            if not producer.cancelled() and producer.result():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.on_close()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _frame(document: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\n\n"


class StreamProducer:
    """Writes one exchange as OpenRouter's SSE events (OPENROUTER.md §3)."""

    def __init__(self, exchange: Exchange, api_key: str) -> None:
        self.exchange = exchange
        self.knobs = exchange.knobs
        self.user_id = user_id_for(api_key)
        self.head = {"id": exchange.generation_id, "provider": exchange.provider, "model": exchange.model,
                     "object": "chat.completion.chunk", "created": exchange.created}
        fault = exchange.attempt.delivery_fault
        self.fault = fault.error if fault else None
        after = fault.error_after_tokens if fault and fault.error_after_tokens is not None else None
        self.fault_after = self.knobs.error_after_tokens if after is None else after
        self.sent_tokens = 0
        self.send: Send

    async def _write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def _pause(self, milliseconds: float) -> None:
        """Idle time; with keep-alive on, comments go out every `keepalive_ms` of it (as during reasoning)."""
        if milliseconds <= 0:
            return
        interval = self.knobs.keepalive_ms
        if interval <= 0:
            await asyncio.sleep(milliseconds / 1000)
            return
        while milliseconds > 0:
            step = min(interval, milliseconds)
            await asyncio.sleep(step / 1000)
            milliseconds -= step
            if step == interval:
                await self._write(PROCESSING)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        native = None if finish is None else self.exchange.native_finish(finish)
        choice = {"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": finish,
                  "native_finish_reason": native, "logprobs": None}
        return {**self.head, "choices": [choice]}

    async def __call__(self, send: Send) -> bool:
        self.send = send
        for _ in range(self.knobs.processing_comments):
            await self._write(PROCESSING)
        await self._pause(self.knobs.ttft_ms)
        answer = self.exchange.answer
        if not await self._tokens(answer.reasoning, "reasoning", visible=answer.reasoning_visible):
            return self.fault != "disconnect"
        if not await self._tokens(answer.content, "content", visible=True):
            return self.fault != "disconnect"
        if not await self._tool_calls():
            return self.fault != "disconnect"
        if answer.images:
            await self._write(_frame(self._chunk({"content": "", "images": answer.images})))
        await self._finish()
        return True

    async def _tokens(self, tokens: list[str], kind: str, visible: bool) -> bool:
        """Send `tokens` in chunks; False once an injected fault has ended the stream."""
        size = self.knobs.chunk_tokens
        for start in range(0, len(tokens), size):
            piece = tokens[start:start + size]
            if not await self._before_tokens(len(piece)):
                return False
            text = "".join(piece)
            if kind == "reasoning":
                if visible:
                    detail = {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}
                    await self._write(_frame(self._chunk({"content": "", "reasoning": text,
                                                          "reasoning_details": [detail]})))
                self.exchange.delivered.reasoning += len(piece)
            else:
                await self._write(_frame(self._chunk({"content": text})))
                self.exchange.delivered.text += len(piece)
            self.sent_tokens += len(piece)
        return True

    async def _tool_calls(self) -> bool:
        """OpenAI-style fragments; id/type/name are repeated on every fragment, as some providers do."""
        size = self.knobs.chunk_tokens
        for index, call in enumerate(self.exchange.answer.tool_calls):
            name = call["function"]["name"]
            base = {"index": index, "id": call["id"], "type": "function"}
            if "arguments" not in call["function"]:  # the shape a tool with only optional parameters gets
                await self._write(_frame(self._chunk({"content": None, "tool_calls": [
                    {**base, "function": {"name": name}}]})))
                self.exchange.delivered.text += count_tokens(name)
                continue
            await self._write(_frame(self._chunk({"content": None, "tool_calls": [
                {**base, "function": {"name": name, "arguments": ""}}]})))
            pieces = split_tokens(call["function"]["arguments"])
            self.exchange.delivered.text += count_tokens(name)
            for start in range(0, len(pieces), size):
                piece = pieces[start:start + size]
                if not await self._before_tokens(len(piece)):
                    return False
                fragment = {**base, "function": {"name": name, "arguments": "".join(piece)}}
                await self._write(_frame(self._chunk({"content": None, "tool_calls": [fragment]})))
                self.exchange.delivered.text += len(piece)
                self.sent_tokens += len(piece)
        return True

    async def _before_tokens(self, count: int) -> bool:
        """Pacing and the fault that fires once `error_after_tokens` tokens are out."""
        if self.sent_tokens:
            await self._pause(self.knobs.inter_token_ms * count)
        if self.fault is None or self.sent_tokens < self.fault_after:
            return True
        if self.fault == "stall":
            self.fault = None
            await asyncio.sleep(self.knobs.stall_ms / 1000)
            return True
        await self._fail()
        return False

    async def _fail(self) -> None:
        self.exchange.settle("error")
        if self.fault == "disconnect":
            return
        status = self.knobs.stream_error_status
        if self.fault == "mid_stream_legacy" or self.fault == "error_in_200":
            error = {"error": {"message": "Provider disconnected", "code": status or 502}, "user_id": self.user_id}
            await self._write(_frame(error))
        else:
            choice = {"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                      "native_finish_reason": self.exchange.native_finish("error")}
            failure = MID_STREAM_ERROR if status is None else stream_error(status)
            await self._write(_frame({**self.head, "error": failure, "choices": [choice]}))
        if self.knobs.done_after_error:
            await self._write(DONE)

    async def _finish(self) -> None:
        answer = self.exchange.answer
        usage = self.exchange.usage()
        self.exchange.settle("completed", usage)
        finish_chunk = self._chunk({"content": ""}, answer.finish_reason)
        shape = self.knobs.usage_chunk
        if shape == "merged":
            await self._write(_frame({**finish_chunk, "usage": usage}))
        else:
            await self._write(_frame(finish_chunk))
            choices = [] if shape == "empty_choices" else [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                 "native_finish_reason": None, "logprobs": None}]
            await self._write(_frame({**self.head, "choices": choices, "usage": usage}))
        await self._write(DONE)


