"""The one pooled HTTP connection to OpenRouter: adds the gateway's own credentials, translates transport failures.

Streams and cold paths use httpx's types on the `httpx-aiohttp` transport (httpx's own pool measured ~10x slower
under concurrency), handed to the transport directly: `AsyncClient.send` would add cookie persistence, auth and
redirect handling that an upstream API call never wants. JSON calls, the hot path, skip httpx's Request and
Response objects altogether and use aiohttp on the same session and pool (`UpstreamTransport.post_json`). Every
library error, either way, is translated here into the gateway's error family.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson

from gateway.errors import GatewayError, UpstreamError, UpstreamTimeoutError
from gateway.settings import Settings
from gateway.upstream.reply import JsonReply, UpstreamReply
from gateway.upstream.transport import PRELOAD_BODY, BodyReadError, UpstreamTransport

Sender = Callable[[httpx.Request], Awaitable[httpx.Response]]


def build_transport(settings: Settings) -> UpstreamTransport:
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_connections,
        keepalive_expiry=30,
    )
    return UpstreamTransport(limits=limits, trust_env=False)


def _timeouts(settings: Settings) -> dict[str, float]:
    connect = settings.upstream_connect_timeout_s
    return {"connect": connect, "read": settings.upstream_read_timeout_s, "write": connect, "pool": connect}


def build_http_client(settings: Settings, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """For the gateway's other outbound calls (JWKS, alert webhooks), on the same connection pool."""
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(**_timeouts(settings)))


class UpstreamClient:
    """Sends requests to `{OPENROUTER_BASE_URL}/...` with the gateway's key; never a client's headers."""

    def __init__(self, send: Sender, settings: Settings, transport: UpstreamTransport | None = None) -> None:
        self._send_raw = send
        self._direct = transport if transport is not None and transport.direct else None
        self._base_url = settings.openrouter_base_url.rstrip("/")
        self._extensions: dict[str, Any] = {"timeout": _timeouts(settings)}
        self._preloading = {**self._extensions, PRELOAD_BODY: True}
        self._urls: dict[str, httpx.URL] = {}
        # Built once, `host` included: httpx then only adds each request's content-length.
        self._headers = httpx.Headers({
            "host": httpx.URL(self._base_url).netloc.decode("ascii"),
            "authorization": f"Bearer {settings.upstream_key()}",
            "content-type": "application/json",
            "http-referer": settings.app_referer,
            "x-openrouter-title": settings.app_title,
            "x-title": settings.app_title,
        })
        self._plain_headers = dict(self._headers.items())  # for aiohttp, which adds content-length itself

    @classmethod
    def on_transport(cls, transport: httpx.AsyncBaseTransport, settings: Settings) -> UpstreamClient:
        direct = transport if isinstance(transport, UpstreamTransport) else None
        return cls(transport.handle_async_request, settings, direct)

    @classmethod
    def on_client(cls, client: httpx.AsyncClient, settings: Settings) -> UpstreamClient:
        async def send(request: httpx.Request) -> httpx.Response:
            return await client.send(request, stream=True)

        return cls(send, settings)

    @property
    def base_url(self) -> str:
        return self._base_url

    async def post(
        self,
        path: str,
        body: bytes,
        *,
        stream: bool,
        read_timeout_s: float | None = None,
        connect_timeout_s: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST and return the response with headers read; with `stream=False` the body is read too.

        `headers` replace prebuilt ones for this call only (the calling app's own attribution, when allowed).

        `read_timeout_s` bounds each silence between upstream bytes (a stream's idle timeout), enforced by the
        transport's socket read timeout, so a stream pays nothing per chunk for it. `connect_timeout_s` (the
        policy's `timeouts.connect_s`) replaces the settings' connect timeout for this call.
        """
        extensions = self._extensions if stream else self._preloading
        if read_timeout_s is not None or connect_timeout_s is not None:
            timeout = dict(self._extensions["timeout"])
            if read_timeout_s is not None:
                timeout["read"] = read_timeout_s
            if connect_timeout_s is not None:
                timeout["connect"] = timeout["pool"] = connect_timeout_s
            extensions = {**extensions, "timeout": timeout}
        url = self._urls.get(path) or self._urls.setdefault(path, httpx.URL(self._base_url + path))
        sent = self._headers if headers is None else httpx.Headers({**self._headers, **headers})
        request = httpx.Request("POST", url, content=body, headers=sent, extensions=extensions)
        response = await self._send(request)
        if not stream:
            await self._read(response)
        return response

    async def post_json(
        self,
        path: str,
        body: bytes,
        *,
        connect_timeout_s: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamReply:
        """POST and read the whole answer; straight on aiohttp when the client sits on the gateway's transport.

        `headers` replace prebuilt ones for this call only (the calling app's own attribution, when allowed).
        """
        if self._direct is None:
            return await self.post(path, body, stream=False, connect_timeout_s=connect_timeout_s, headers=headers)
        spec = self._extensions["timeout"]
        connect = spec["connect"] if connect_timeout_s is None else connect_timeout_s
        pool = spec["pool"] if connect_timeout_s is None else connect_timeout_s
        timeout = self._direct.timeout((connect, spec["read"], pool))
        try:
            sent = self._plain_headers if headers is None else {**self._plain_headers, **headers}
            response, content = await self._direct.post_json(self._base_url + path, sent, body, timeout)
        except BodyReadError as exc:
            raise _read_error(exc.cause) from exc.cause
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError("OpenRouter did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("Could not reach OpenRouter") from exc
        return JsonReply(response.status, content, response.headers)

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        request = httpx.Request(
            "GET", self._base_url + path, params=params, headers=self._headers, extensions=self._preloading
        )
        response = await self._send(request)
        await self._read(response)
        if response.status_code != 200:
            raise UpstreamError(f"OpenRouter answered {response.status_code} to GET {path}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"OpenRouter sent invalid JSON for GET {path}") from exc

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._send_raw(request)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError("OpenRouter did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("Could not reach OpenRouter") from exc

    @staticmethod
    async def _read(response: httpx.Response) -> None:
        try:
            await response.aread()
        except httpx.HTTPError as exc:
            raise _read_error(exc) from exc
        finally:
            await response.aclose()


def _read_error(exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError("OpenRouter timed out while sending the response")
    return UpstreamError("OpenRouter connection failed while reading the response")
