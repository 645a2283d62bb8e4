"""httpx-aiohttp's transport with the per-request work an upstream API call never needs taken out.

Behaviour is the library's (same aiohttp session and pool, same exception mapping to httpx's types); what changes:
aiohttp timeouts are built once per distinct setting instead of per request, and a request marked with
`PRELOAD_BODY` has its body read by aiohttp in one call and handed to httpx as content, instead of being pulled
through three layers of async iterators (16 KiB chunks, httpx's byte chunker, the join in `aread`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from aiohttp import ClientResponse, ClientSession, ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

PRELOAD_BODY = "gateway.preload_body"  # request extension: read the whole body before returning the response
_HTTP_11 = b"HTTP/1.1"


class BodyReadError(Exception):
    """The answer's headers arrived but its body failed; wraps the mapped httpx error (`cause`)."""

    def __init__(self, cause: httpx.HTTPError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class UpstreamTransport(AiohttpTransport):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeouts: dict[tuple[float | None, float | None, float | None], ClientTimeout] = {}

    def _session(self) -> ClientSession:
        if not isinstance(self.client, ClientSession):
            self.client = self.get_client()
        return self.client

    def _timeout(self, request: httpx.Request) -> ClientTimeout:
        spec = request.extensions.get("timeout", {})
        return self.timeout((spec.get("connect"), spec.get("read"), spec.get("pool")))

    def timeout(self, key: tuple[float | None, float | None, float | None]) -> ClientTimeout:
        """aiohttp's timeout for (connect, read, pool) seconds, built once per distinct setting."""
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
        return timeout

    @property
    def direct(self) -> bool:
        """Whether `post_json` may be used: no proxy (the gateway never configures one)."""
        return self.proxy is None

    async def post_json(
        self, url: str, headers: Mapping[str, str], body: bytes, limits: ClientTimeout
    ) -> tuple[ClientResponse, bytes]:
        """POST with aiohttp alone and read the whole answer, for the hot path's JSON calls.

        Returns the response (released) with its body. Failures raise httpx's exception types, mapped exactly as
        the library's transport maps them (a failure while reading the body wrapped in `BodyReadError`), so the
        client translates every path at one boundary.
        """
        session = self._session()
        with map_aiohttp_exceptions():
            response = await session.request(
                "POST", url, headers=headers, data=body, allow_redirects=False, compress=False, timeout=limits,
            ).__aenter__()
        try:
            with map_aiohttp_exceptions():
                return response, await response.read()
        except httpx.HTTPError as exc:
            raise BodyReadError(exc) from exc
        finally:
            response.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.proxy is not None or "sni_hostname" in request.extensions:
            return await super().handle_async_request(request)  # settings the gateway never uses: the library's way
        try:
            content = request.content
        except httpx.RequestNotRead:  # a streamed upload (never the gateway's own calls): the library's way
            return await super().handle_async_request(request)
        session = self._session()
        with map_aiohttp_exceptions():
            response = await session.request(
                request.method, str(request.url), headers=request.headers, data=content or None,
                allow_redirects=False, auto_decompress=False, compress=False, timeout=self._timeout(request),
            ).__aenter__()
            extensions = {"http_version": _HTTP_11}
            if request.extensions.get(PRELOAD_BODY):
                try:
                    content = await response.read()
                finally:
                    response.release()
                return httpx.Response(response.status, headers=response.raw_headers, content=content,
                                      request=request, extensions=extensions)
        return httpx.Response(response.status, headers=response.raw_headers, stream=AiohttpResponseStream(response),
                              request=request, extensions=extensions)
