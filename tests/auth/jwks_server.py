"""A tiny identity-provider stand-in: serves a mutable JWK Set and counts how often it is fetched."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JWKS_PATH = "/.well-known/jwks.json"


class JwksState:
    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.delay_s = 0.0
        self.status = 200


def jwks_app(state: JwksState) -> Starlette:
    async def jwks(_: Request) -> JSONResponse:
        state.fetches += 1
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        return JSONResponse(state.document, status_code=state.status)

    return Starlette(routes=[Route(JWKS_PATH, jwks)])
