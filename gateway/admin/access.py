"""Who may use `/admin/*`: an authenticated admin, and only for their own org (there is no cross-org role)."""

from __future__ import annotations

from starlette.requests import Request

from gateway.auth.authenticator import Authenticator, require_admin
from gateway.auth.principal import Principal
from gateway.errors import PermissionDeniedError


async def authorize_admin(authenticator: Authenticator, request: Request) -> Principal:
    principal = await authenticator.authenticate(request.headers.get("authorization"))
    require_admin(principal)
    return principal


async def authorize_org(authenticator: Authenticator, request: Request) -> tuple[str, Principal]:
    """(the path's org, the caller) once the caller is an admin of exactly that org."""
    principal = await authorize_admin(authenticator, request)
    org = request.path_params["org"]
    if org != principal.org:
        raise PermissionDeniedError(f"Admins of organization '{principal.org}' cannot access organization '{org}'")
    return org, principal
