"""`GET /v1/key` (OpenRouter's `/key` shape plus the gateway's detail) and `GET /v1/usage`, for any caller."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.auth.authenticator import Authenticator
from gateway.callers.account import CallerAccount


class CallerRoutes:
    def __init__(self, authenticator: Authenticator, account: CallerAccount) -> None:
        self._auth = authenticator
        self._account = account

    def routes(self) -> list[Route]:
        return [
            Route("/v1/key", self._key, methods=["GET"]),
            Route("/v1/auth/key", self._key, methods=["GET"]),  # OpenRouter's older alias
            Route("/v1/usage", self._usage, methods=["GET"]),
        ]

    async def _key(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        return _json(await self._account.key(principal))

    async def _usage(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        return _json(await self._account.usage(principal, request.query_params.get("tag")))


def _json(payload: object) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


