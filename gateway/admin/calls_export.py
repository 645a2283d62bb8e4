"""`GET /admin/orgs/{org}/calls/export`: an org's call records streamed as JSONL or CSV, every field.

The same export as `gateway calls --format jsonl|csv`, filtered the same way (`tag` repeatable as KEY:VALUE or
KEY=VALUE, `since` as an ISO date or time, `limit` newest records); admin role and own org only, like every
`/admin` route. The records are read first (a Redis failure is a 503 rather than a cut file) and written out in
batches, so a large export never sits in memory twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.auth.authenticator import Authenticator, require_admin
from gateway.errors import InvalidRequestError, PermissionDeniedError, ServiceUnavailableError
from gateway.metering.export import ExportFormat, export_records
from gateway.metering.filters import parse_since, tag_filters
from gateway.metering.ledger import Ledger
from gateway.metering.record import FIELD_NAMES, LedgerRecord

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 1_000_000
_BATCH = 500
_MEDIA_TYPES: dict[str, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequestError(f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got '{text}'",
                                  param="limit")
    return int(text)


def _batches(records: Sequence[LedgerRecord], fmt: ExportFormat) -> Iterator[bytes]:
    if fmt == "csv":
        yield (",".join(FIELD_NAMES) + "\n").encode()
    for start in range(0, len(records), _BATCH):
        out = io.StringIO()
        export_records(records[start:start + _BATCH], fmt, out)
        text = out.getvalue()
        yield (text.split("\n", 1)[1] if fmt == "csv" else text).encode()  # the header went out once, above


class CallsExportRoutes:
    def __init__(self, authenticator: Authenticator, ledger: Ledger) -> None:
        self._auth = authenticator
        self._ledger = ledger

    def routes(self) -> list[Route]:
        return [Route("/admin/orgs/{org}/calls/export", self.export, methods=["GET"])]

    async def export(self, request: Request) -> Response:
        principal = await self._auth.authenticate(request.headers.get("authorization"))
        require_admin(principal)
        org = request.path_params["org"]
        if org != principal.org:
            raise PermissionDeniedError(f"Admins of organization '{principal.org}' cannot access organization '{org}'")
        query = request.query_params
        fmt = query.get("format", "jsonl")
        if fmt not in _MEDIA_TYPES:
            raise InvalidRequestError(f"'format' must be jsonl or csv, got '{fmt}'", param="format")
        try:
            tags = tag_filters(query.getlist("tag"))
        except ValueError as exc:
            raise InvalidRequestError(f"'tag' {exc}", param="tag") from None
        try:
            since = parse_since(query["since"]) if "since" in query else None
        except ValueError:
            raise InvalidRequestError(f"'since' must be an ISO 8601 date or time, got '{query['since']}'",
                                      param="since") from None
        try:
            records = await self._ledger.read(org=org, since=since, limit=_limit(query.get("limit")), tags=tags)
        except (RedisError, OSError) as exc:
            raise ServiceUnavailableError("The call ledger cannot be read right now; try again shortly") from exc
        headers = {"content-disposition": f'attachment; filename="calls-{org}.{fmt}"'}
        return StreamingResponse(_batches(records, fmt), media_type=_MEDIA_TYPES[fmt], headers=headers)
