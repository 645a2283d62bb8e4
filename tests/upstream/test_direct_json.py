"""JSON calls go straight through aiohttp (no httpx objects); answers and every failure must read as before."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.errors import UpstreamError, UpstreamTimeoutError
from gateway.settings import Settings
from gateway.upstream.client import UpstreamClient, build_transport
from gateway.upstream.completions import read_completion

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ANSWER = b'{"id":"gen-1","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"total_tokens":3}}'


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(
        b"content-length:")), 0)
    return head + await reader.readexactly(length)


async def _client(handler: Handler, **settings: float) -> AsyncIterator[tuple[UpstreamClient, list[bytes]]]:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        await handler(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = Settings(openrouter_base_url=f"http://127.0.0.1:{port}/api/v1",  # type: ignore[call-arg]
                      openrouter_api_key="sk-or-v1-test", **settings)
    transport = build_transport(config)
    try:
        yield UpstreamClient.on_transport(transport, config), seen
    finally:
        await transport.aclose()
        server.close()


async def test_a_gzipped_answer_is_read_and_the_credentials_are_the_gateways() -> None:
    async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = gzip.compress(ANSWER)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
                     b"X-Generation-Id: gen-9\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()

    async for client, seen in _client(answer):
        reply = await client.post_json("/chat/completions", b'{"model":"m"}')
        assert reply.status_code == 200 and reply.content == ANSWER
        completion = read_completion(reply)
        assert completion.generation_id == "gen-9" and completion.usage == {"total_tokens": 3}
        assert b"authorization: Bearer sk-or-v1-test" in seen[0].replace(b"Authorization", b"authorization")
        assert seen[0].startswith(b"POST /api/v1/chat/completions ") and seen[0].endswith(b'{"model":"m"}')


async def test_a_connection_cut_in_the_body_is_a_read_failure() -> None:
    async def cut(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"id\":")
        await writer.drain()
        writer.close()

    async for client, _ in _client(cut):
        with pytest.raises(UpstreamError, match="failed while reading the response"):
            await client.post_json("/chat/completions", b"{}")


async def test_silence_is_a_timeout_and_nobody_listening_a_gateway_error() -> None:
    async def silent(_: asyncio.StreamReader, __: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async for client, _ in _client(silent, upstream_read_timeout_s=0.2):
        with pytest.raises(UpstreamTimeoutError):
            await client.post_json("/chat/completions", b"{}")
    config = Settings(openrouter_base_url="http://127.0.0.1:1/api/v1",  # type: ignore[call-arg]
                      openrouter_api_key="sk-or-v1-test")
    transport = build_transport(config)
    try:
        # aiohttp's refusal maps as httpx-aiohttp maps it (a connect timeout): a retryable gateway error either way
        with pytest.raises((UpstreamError, UpstreamTimeoutError)):
            await UpstreamClient.on_transport(transport, config).post_json("/chat/completions", b"{}")
    finally:
        await transport.aclose()
