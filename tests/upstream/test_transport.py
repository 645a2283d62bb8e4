"""The upstream transport over real sockets: preloaded bodies, streamed bodies and uploads, timeouts reused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.upstream.transport import PRELOAD_BODY, UpstreamTransport
from tests.servers import serve


async def _echo(request: Request) -> Response:
    return Response(b"echo:" + await request.body(), headers={"x-seen-length": str(len(await request.body()))})


async def _chunks(_: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            yield part

    return StreamingResponse(parts(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(Starlette(routes=[Route("/echo", _echo, methods=["POST"]), Route("/sse", _chunks)])) as server:
        yield server.url


async def test_a_preloaded_body_arrives_read(url: str) -> None:
    transport = UpstreamTransport()
    try:
        request = httpx.Request("POST", f"{url}/echo", content=b"hello", extensions={PRELOAD_BODY: True})
        response = await transport.handle_async_request(request)
        assert response.status_code == 200
        assert response.content == b"echo:hello"  # readable at once, no aread needed
        assert response.headers["x-seen-length"] == "5"
    finally:
        await transport.aclose()


async def test_a_streamed_response_is_read_as_it_comes(url: str) -> None:
    transport = UpstreamTransport()
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{url}/sse"))
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
        await response.aclose()
        assert body == b"data: 1\n\ndata: 2\n\n"
    finally:
        await transport.aclose()


async def test_a_streamed_upload_goes_the_librarys_way(url: str) -> None:
    async def upload() -> AsyncIterator[bytes]:
        yield b"part1-"
        yield b"part2"

    async with httpx.AsyncClient(transport=UpstreamTransport()) as client:
        response = await client.post(f"{url}/echo", content=upload())
    assert response.content == b"echo:part1-part2"
