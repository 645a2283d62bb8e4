"""The Responses API as SSE: `event: <type>` + `data: {…, "type", "sequence_number"}` frames.

Order: `: OPENROUTER PROCESSING` comments, `response.created`, `response.in_progress`, then per output item
`output_item.added` … deltas … `output_item.done` (reasoning text, message text in an `output_text` content
part, or function-call arguments), then `response.completed` (`response.incomplete` when cut by
`max_output_tokens`). Pacing, injected faults and cancellation billing are the chat stream's
(`StreamProducer`); a mid-stream fault ends with `response.failed`, its legacy form with an `error` event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.types import Send

from gateway.sim.billing import usage_document
from gateway.sim.exchange import Exchange
from gateway.sim.responses_body import (
    FAILED_ERROR,
    ItemIds,
    function_call_item,
    item_status,
    message_item,
    output_text_part,
    reasoning_item,
    response_document,
    responses_usage,
)
from gateway.sim.streaming import PROCESSING, StreamProducer
from gateway.sim.tokenizer import count_tokens, split_tokens

Emit = Callable[[str], Awaitable[None]]


class ResponsesStreamProducer(StreamProducer):
    def __init__(self, exchange: Exchange, api_key: str) -> None:
        super().__init__(exchange, api_key)
        self.sequence = 0
        self.ids = ItemIds(exchange.generation_id)
        self.items: list[dict[str, Any]] = []  # finished output items, in output order

    async def _event(self, kind: str, **fields: Any) -> None:
        document = {"type": kind, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        await self._write(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(document) + b"\n\n")

    async def __call__(self, send: Send) -> bool:
        self.send = send
        for _ in range(self.knobs.processing_comments):
            await self._write(PROCESSING)
        snapshot = response_document(self.exchange, "in_progress", [], None)
        await self._event("response.created", response=snapshot)
        await self._event("response.in_progress", response=snapshot)
        await self._pause(self.knobs.ttft_ms)
        for step in (self._reasoning, self._message, self._function_calls):
            if not await step():
                return self.fault != "disconnect"
        await self._finish()
        return True

    async def _pieces(self, tokens: list[str], emit: Emit | None, reasoning: bool = False) -> bool:
        """Send `tokens` in `chunk_tokens` pieces (paced, counted); False once a fault ended the stream."""
        size = self.knobs.chunk_tokens
        for start in range(0, len(tokens), size):
            piece = tokens[start:start + size]
            if not await self._before_tokens(len(piece)):
                return False
            if emit is not None:
                await emit("".join(piece))
            if reasoning:
                self.exchange.delivered.reasoning += len(piece)
            else:
                self.exchange.delivered.text += len(piece)
            self.sent_tokens += len(piece)
        return True

    async def _open(self, item: dict[str, Any]) -> int:
        index = len(self.items)
        await self._event("response.output_item.added", output_index=index, item=item)
        return index

    async def _close(self, index: int, item: dict[str, Any]) -> None:
        await self._event("response.output_item.done", output_index=index, item=item)
        self.items.append(item)

    async def _reasoning(self) -> bool:
        answer = self.exchange.answer
        if not answer.reasoning:
            return True
        item_id = self.ids.reasoning
        index = await self._open(reasoning_item(item_id, None, "in_progress"))
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        if not answer.reasoning_visible:
            if not await self._pieces(answer.reasoning, None, reasoning=True):
                return False
            await self._close(index, reasoning_item(item_id, None, "completed"))
            return True
        await self._event("response.content_part.added", **where, part={"type": "reasoning_text", "text": ""})

        async def delta(text: str) -> None:
            await self._event("response.reasoning_text.delta", **where, delta=text)

        if not await self._pieces(answer.reasoning, delta, reasoning=True):
            return False
        text = "".join(answer.reasoning).strip()
        await self._event("response.reasoning_text.done", **where, text=text)
        await self._event("response.content_part.done", **where, part={"type": "reasoning_text", "text": text})
        await self._close(index, reasoning_item(item_id, text, "completed"))
        return True

    async def _message(self) -> bool:
        answer = self.exchange.answer
        if answer.tool_calls:
            return True
        item_id = self.ids.message
        index = await self._open(message_item(item_id, None, "in_progress"))
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        await self._event("response.content_part.added", **where, part=output_text_part(""))

        async def delta(text: str) -> None:
            await self._event("response.output_text.delta", **where, delta=text, logprobs=[])

        if not await self._pieces(answer.content, delta):
            return False
        text = "".join(answer.content).lstrip()
        await self._event("response.output_text.done", **where, text=text, logprobs=[])
        await self._event("response.content_part.done", **where, part=output_text_part(text))
        await self._close(index, message_item(item_id, text, item_status(self.exchange)))
        return True

    async def _function_calls(self) -> bool:
        for number, call in enumerate(self.exchange.answer.tool_calls):
            item_id = self.ids.call(number)
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            index = await self._open(function_call_item(item_id, call, "", "in_progress"))
            self.exchange.delivered.text += count_tokens(name)

            async def delta(text: str, item_id: str = item_id, index: int = index) -> None:
                await self._event("response.function_call_arguments.delta", item_id=item_id, output_index=index,
                                  delta=text)

            if not await self._pieces(split_tokens(arguments), delta):
                return False
            await self._event("response.function_call_arguments.done", item_id=item_id, name=name,
                              output_index=index, arguments=arguments)
            await self._close(index, function_call_item(item_id, call, arguments, "completed"))
        return True

    async def _fail(self) -> None:
        self.exchange.settle("error")
        if self.fault == "disconnect":
            return
        if self.fault in ("mid_stream_legacy", "error_in_200"):
            await self._event("error", code="server_error", message=FAILED_ERROR["message"], param=None)
            return
        usage = responses_usage(usage_document(self.exchange.prompt_tokens, 0, 0, 0, (0.0, 0.0, 0.0)))
        document = response_document(self.exchange, "failed", self.items, usage, dict(FAILED_ERROR))
        await self._event("response.failed", response=document)

    async def _finish(self) -> None:
        usage = self.exchange.usage()
        self.exchange.settle("completed", usage)
        status = item_status(self.exchange)
        document = response_document(self.exchange, status, self.items, responses_usage(usage))
        await self._event("response.completed" if status == "completed" else "response.incomplete",
                          response=document)
