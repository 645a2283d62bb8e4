"""The admin API the browser console needs beyond budgets and limits: who am I, an overview, the calls ledger.

Same rules as every `/admin/*` route (see `access`): an admin, of the path's own org only.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.admin import calls
from gateway.admin.access import authorize_admin, authorize_org
from gateway.admin.calls import CallQuery, CallSource
from gateway.admin.overview import AlertLog, overview
from gateway.admin.service import AdminService
from gateway.auth.authenticator import Authenticator
from gateway.errors import InvalidRequestError, NotFoundError
from gateway.metering.export import ExportFormat, export_chunks
from gateway.metering.record import LedgerRecord

# What a row of the calls table shows; the full record (prompt text included, when captured) is one click away.
ROW_FIELDS = ("request_id", "timestamp", "subject", "task", "model_requested", "model_routed", "model_served",
              "status", "error_type", "prompt_tokens", "completion_tokens", "cost_usd", "cost_source", "latency_ms",
              "stream", "cancelled", "cache", "tags")
EXPORT_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# Admin answers are about money and people; no shared cache may keep them.
PRIVATE = {"cache-control": "no-store"}


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=PRIVATE)


def _row(record: LedgerRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ROW_FIELDS}


def _limit(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return calls.DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= calls.MAX_PAGE:
        raise InvalidRequestError(f"'limit' must be a whole number from 1 to {calls.MAX_PAGE}", param="limit")
    return int(text)


class ConsoleRoutes:
    def __init__(self, authenticator: Authenticator, service: AdminService, source: CallSource,
                 alerts: AlertLog) -> None:
        self._auth = authenticator
        self._service = service
        self._source = source
        self._alerts = alerts

    def routes(self) -> list[Route]:
        org_routes: list[tuple[str, Callable[[Request, str], Awaitable[Response]]]] = [
            ("/admin/orgs/{org}/overview", self._overview),
            ("/admin/orgs/{org}/calls", self._calls),
            # Before {request_id}, which would match "export" and "summary" too.
            ("/admin/orgs/{org}/calls/export", self._export),
            ("/admin/orgs/{org}/calls/summary", self._summary),
            ("/admin/orgs/{org}/calls/{request_id}", self._call),
        ]
        return [
            Route("/admin/me", self._me, methods=["GET"]),
            *(Route(path, self._org_endpoint(handler), methods=["GET"]) for path, handler in org_routes),
        ]

    def _org_endpoint(self, handler: Callable[[Request, str], Awaitable[Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            org, _ = await authorize_org(self._auth, request)
            return await handler(request, org)

        return endpoint

    async def _me(self, request: Request) -> Response:
        """The console's sign-in check: 401 for a bad token, 403 without the admin role, else whose it is."""
        principal = await authorize_admin(self._auth, request)
        return _json({"org": principal.org, "subject": principal.subject, "roles": sorted(principal.roles)})

    async def _overview(self, request: Request, org: str) -> Response:
        return _json(await overview(self._service, self._source, self._alerts, org))

    async def _calls(self, request: Request, org: str) -> Response:
        query = CallQuery.from_params(request.query_params)
        cursor = request.query_params.get("cursor") or None
        found = await calls.page(self._source, org, query, after=cursor, limit=_limit(request))
        return _json({"data": [_row(record) for record in found.records], "next_cursor": found.cursor,
                      "has_more": found.cursor is not None})

    async def _summary(self, request: Request, org: str) -> Response:
        return _json(await calls.summarize(self._source, org, CallQuery.from_params(request.query_params)))

    async def _call(self, request: Request, org: str) -> Response:
        request_id = request.path_params["request_id"]
        record = await calls.find(self._source, org, request_id)
        if record is None:
            raise NotFoundError(f"No call '{request_id}' in the ledger of organization '{org}'")
        return _json(asdict(record))

    async def _export(self, request: Request, org: str) -> Response:
        fmt = request.query_params.get("format", "csv")
        if fmt not in EXPORT_TYPES:
            raise InvalidRequestError("'format' must be 'csv' or 'jsonl'", param="format")
        query = CallQuery.from_params(request.query_params)
        export_format: ExportFormat = "csv" if fmt == "csv" else "jsonl"
        records: AsyncIterator[LedgerRecord] = calls.matching(self._source, org, query, limit=calls.MAX_EXPORT)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safe_org = re.sub(r"[^A-Za-z0-9._-]", "_", org)  # an org id is a claim: keep it out of header syntax
        headers = PRIVATE | {"content-disposition": f'attachment; filename="calls-{safe_org}-{stamp}.{fmt}"'}
        return StreamingResponse(export_chunks(records, export_format), media_type=EXPORT_TYPES[fmt],
                                 headers=headers)
