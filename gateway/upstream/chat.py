"""Chat completions upstream: one call, n concurrent calls, or SSE streams opened (and failures surfaced) before
the first byte goes to the client."""

from __future__ import annotations

import asyncio

import httpx

from gateway.completions import Completion, read_completion
from gateway.errors import GatewayError, UpstreamError
from gateway.upstream.client import UpstreamClient
from gateway.upstream.errors import translate_error

CHAT_PATH = "/chat/completions"


class ChatUpstream:
    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def complete(self, payload: bytes) -> Completion:
        return read_completion(await self._client.post(CHAT_PATH, payload, stream=False))

    async def complete_many(self, payload: bytes, n: int) -> list[Completion]:
        """n concurrent calls; all or nothing, like one OpenAI request with n choices."""
        tasks = [asyncio.ensure_future(self.complete(payload)) for _ in range(n)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def open_stream(self, payload: bytes) -> httpx.Response:
        """An SSE response ready to read, or the GatewayError the upstream answered with instead."""
        response = await self._client.post(CHAT_PATH, payload, stream=True)
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        try:
            body = await response.aread()
        except httpx.HTTPError:
            body = b""
        finally:
            await response.aclose()
        raise translate_error(response.status_code, body, response.headers)

    async def open_streams(self, payload: bytes, n: int) -> list[httpx.Response]:
        results = await asyncio.gather(*(self.open_stream(payload) for _ in range(n)), return_exceptions=True)
        opened = [r for r in results if isinstance(r, httpx.Response)]
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is None:
            return opened
        for response in opened:
            await response.aclose()
        if isinstance(failure, GatewayError):
            raise failure
        raise UpstreamError("Upstream fan-out failed") from failure
