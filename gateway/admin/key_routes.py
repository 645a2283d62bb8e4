"""`/admin/orgs/{org}/keys`: an org's admins create, list and revoke their own org's API keys.

The contract (the admin console depends on it): POST answers 201 with the view plus `key`, the secret, shown
only then; GET answers `{"data": [view, ...]}`; DELETE answers `{"id", "revoked": true}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.auth.authenticator import Authenticator, require_admin
from gateway.auth.principal import Principal
from gateway.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from gateway.keys.service import KeyService, View
from gateway.keys.validation import key_request

log = structlog.get_logger("gateway.admin")
Handler = Callable[[Request, str, Principal], Awaitable[tuple[int, View]]]


def _json(status: int, payload: object) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


class KeyRoutes:
    def __init__(self, authenticator: Authenticator, service: KeyService) -> None:
        self._auth = authenticator
        self._service = service

    def routes(self) -> list[Route]:
        return [
            Route("/admin/orgs/{org}/keys", self._endpoint(self._create), methods=["POST"]),
            Route("/admin/orgs/{org}/keys", self._endpoint(self._list), methods=["GET"]),
            Route("/admin/orgs/{org}/keys/{key_id}", self._endpoint(self._show), methods=["GET"]),
            Route("/admin/orgs/{org}/keys/{key_id}", self._endpoint(self._revoke), methods=["DELETE"]),
        ]

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            principal = await self._auth.authenticate(request.headers.get("authorization"))
            require_admin(principal)
            org = request.path_params["org"]
            if org != principal.org:
                raise PermissionDeniedError(
                    f"Admins of organization '{principal.org}' cannot access organization '{org}'"
                )
            status, view = await handler(request, org, principal)
            return _json(status, view)

        return endpoint

    async def _create(self, request: Request, org: str, principal: Principal) -> tuple[int, View]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidRequestError("The request body is not valid JSON") from None
        view = await self._service.create(key_request(org, body, datetime.now(UTC)))
        # Who made which key, for audit; never the key itself.
        log.info("admin.key_created", org=org, subject=principal.subject, key_id=view["id"], name=view["name"])
        return 201, view

    async def _list(self, request: Request, org: str, principal: Principal) -> tuple[int, View]:
        return 200, await self._service.list(org)

    async def _show(self, request: Request, org: str, principal: Principal) -> tuple[int, View]:
        view = await self._service.show(org, request.path_params["key_id"])
        if view is None:
            raise _unknown(request)
        return 200, view

    async def _revoke(self, request: Request, org: str, principal: Principal) -> tuple[int, View]:
        view = await self._service.revoke(org, request.path_params["key_id"])
        if view is None:
            raise _unknown(request)
        log.info("admin.key_revoked", org=org, subject=principal.subject, key_id=view["id"])
        return 200, view


def _unknown(request: Request) -> NotFoundError:
    return NotFoundError(f"No API key '{request.path_params['key_id'][:64]}' in this organization",
                         code="key_not_found")
