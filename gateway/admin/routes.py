"""`/admin/orgs/{org}/...`: an org's admins read and change its budgets and limits and read its spend.

Every route authenticates, requires the `admin` role and only serves the caller's own org: there is no
cross-org role, so an admin of one org can neither read nor change another's. Answers are the same
documents `gateway budget|limits|usage --json` prints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.access import authorize_org
from gateway.admin.service import AdminService
from gateway.admin.updates import budget_update_from_body, limits_update_from_body
from gateway.admin.views import View
from gateway.auth.authenticator import Authenticator
from gateway.auth.principal import Principal
from gateway.errors import InvalidRequestError, PermissionDeniedError
from gateway.limits.backend import LimiterBackend
from gateway.policy.store import PolicyStore

Handler = Callable[[Request, str, Principal], Awaitable[View]]

log = structlog.get_logger("gateway.admin")


def _json(payload: object) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


async def _json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InvalidRequestError("The request body is not valid JSON") from None


def _since(request: Request) -> date | None:
    text = request.query_params.get("since")
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidRequestError(f"'since' must be a date as YYYY-MM-DD, got '{text}'", param="since") from None


def _within_policy(changes: dict[str, tuple[object, float | int | None]]) -> None:
    """An org's own admins may tighten what the policy file grants, never loosen it: raising a budget or limit
    above the policy's figure is for operators (`gateway budget|limits set`, which needs Redis access)."""
    for name, (change, ceiling) in changes.items():
        if isinstance(change, int | float) and not isinstance(change, bool) and ceiling is not None \
                and change > ceiling:
            raise PermissionDeniedError(
                f"'{name}' may not exceed the policy's {ceiling:g} for this organization; ask an operator to "
                "raise it", param=name,
            )


class AdminRoutes:
    def __init__(self, authenticator: Authenticator, limiter: LimiterBackend, policies: PolicyStore) -> None:
        self._auth = authenticator
        self._service = AdminService(limiter, lambda: policies.current)
        self._policies = policies

    def routes(self) -> list[Route]:
        return [
            Route("/admin/orgs/{org}/budget", self._endpoint(self._get_budget), methods=["GET"]),
            Route("/admin/orgs/{org}/budget", self._endpoint(self._put_budget), methods=["PUT"]),
            Route("/admin/orgs/{org}/limits", self._endpoint(self._get_limits), methods=["GET"]),
            Route("/admin/orgs/{org}/limits", self._endpoint(self._put_limits), methods=["PUT"]),
            Route("/admin/orgs/{org}/usage", self._endpoint(self._get_usage), methods=["GET"]),
            Route("/admin/orgs/{org}/reset", self._endpoint(self._post_reset), methods=["POST"]),
        ]

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            org, principal = await self._authorize(request)
            return _json(await handler(request, org, principal))

        return endpoint

    async def _authorize(self, request: Request) -> tuple[str, Principal]:
        return await authorize_org(self._auth, request)

    async def _get_budget(self, request: Request, org: str, principal: Principal) -> View:
        return await self._service.budget(org)

    async def _put_budget(self, request: Request, org: str, principal: Principal) -> View:
        update = budget_update_from_body(await _json_body(request))
        settings = self._policies.current.org_settings(org)
        _within_policy({"daily_usd": (update.daily_usd, settings.daily_budget_usd),
                        "monthly_usd": (update.monthly_usd, settings.monthly_budget_usd)})
        view = await self._service.set_budget(org, update)
        # Who changed money limits, and to what, belongs in the log for audit.
        log.info("admin.budget_set", org=org, subject=principal.subject, daily_usd=view["daily_usd"]["override"],
                 monthly_usd=view["monthly_usd"]["override"])
        return view

    async def _get_limits(self, request: Request, org: str, principal: Principal) -> View:
        return await self._service.limits(org)

    async def _put_limits(self, request: Request, org: str, principal: Principal) -> View:
        update = limits_update_from_body(await _json_body(request))
        settings = self._policies.current.org_settings(org)
        _within_policy({"rpm": (update.rpm, settings.rpm), "tpm": (update.tpm, settings.tpm),
                        "max_concurrent": (update.max_concurrent, settings.max_concurrent)})
        view = await self._service.set_limits(org, update)
        log.info("admin.limits_set", org=org, subject=principal.subject,
                 **{name: view[name]["override"] for name in ("rpm", "tpm", "max_concurrent")})
        return view

    async def _get_usage(self, request: Request, org: str, principal: Principal) -> View:
        return await self._service.usage(org, _since(request), request.query_params.get("tag"))

    async def _post_reset(self, request: Request, org: str, principal: Principal) -> View:
        view = await self._service.reset(org)
        log.info("admin.reset", org=org, subject=principal.subject)
        return view
