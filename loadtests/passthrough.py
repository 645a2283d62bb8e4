"""A bare Starlette + aiohttp passthrough: the yardstick the gateway's overhead is measured against.

No auth, no limits, no normalisation: it forwards the body to `{OPENROUTER_BASE_URL}/chat/completions` and relays
the answer (streams chunk by chunk). Run by loadtests/bench.py as `uvicorn loadtests.passthrough:app`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("OPENROUTER_BASE_URL", "http://127.0.0.1:8090/api/v1").rstrip("/")
HEADERS = {"authorization": f"Bearer {os.environ.get('OPENROUTER_API_KEY', 'sk-or-v1-bench')}",
           "content-type": "application/json"}


class Passthrough:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    async def chat(self, request: Request) -> Response:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))
        body = await request.body()
        response = await self.session.post(f"{UPSTREAM}/chat/completions", data=body, headers=HEADERS)
        if b'"stream":true' not in body.replace(b" ", b""):
            content = await response.read()
            response.release()
            return Response(content, status_code=response.status, media_type="application/json")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()

        return StreamingResponse(relay(), media_type="text/event-stream")


_passthrough = Passthrough()
app = Starlette(routes=[Route("/v1/chat/completions", _passthrough.chat, methods=["POST"]),
                        Route("/healthz", lambda _: Response("ok"))])
