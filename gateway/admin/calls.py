"""One org's calls from the ledger, newest first, filtered and paged on the server (the console's calls view).

Paging is by position, not offset: each answer carries the position of the last entry it looked at, and the next
page resumes strictly after it, so page 200 costs what page 1 costs. A page also stops after `max_scan` entries
even when few of them matched, so a filter that matches nothing cannot make one request read a million records;
the answer then says `has_more` and the console simply offers the next page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.errors import InvalidRequestError
from gateway.limits.store_errors import store_errors
from gateway.metering.ledger import Ledger
from gateway.metering.record import LedgerRecord
from gateway.metering.redis_ledger import scan_newest
from gateway.redis_client import RedisClient

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_SCAN = 100_000
MAX_EXPORT = 100_000
MAX_EXPORT_SCAN = 1_000_000  # the default stream length: an export may read the whole ledger once
STATUS_CLASSES = ("ok", "error")
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
Entry = tuple[str, LedgerRecord]  # (position in the ledger, record)


class CallSource(Protocol):
    def scan(self, *, org: str, since: datetime | None, after: str | None) -> AsyncIterator[Entry]:
        """(position, record) newest first, starting strictly after position `after`."""
        ...


class StreamCalls:
    """The shared Redis stream ledger: positions are stream entry ids."""

    def __init__(self, redis: RedisClient, stream_key: str, max_call_s: float = 3600.0) -> None:
        self._redis = redis
        self._key = stream_key
        # Entry ids are when a call finished, timestamps when it started: read back far enough for long calls.
        self._slack_ms = int(max_call_s * 1000)

    async def scan(self, *, org: str, since: datetime | None, after: str | None) -> AsyncIterator[Entry]:
        if after is not None and not STREAM_ID.fullmatch(after):
            raise InvalidRequestError(f"'cursor' is not a position from this gateway: {after!r}", param="cursor")
        lowest = None if since is None else int(since.timestamp() * 1000) - self._slack_ms
        # Every org's calls share the stream; callers check `org` and count what they scanned against their cap.
        with store_errors():  # an unreachable Redis is the gateway's 503, as for every other store read
            async for item in scan_newest(self._redis, stream_key=self._key, before=after, lowest_ms=lowest):
                yield item


class LedgerCalls:
    """Any other ledger (in-process memory, JSONL files): read its newest `MAX_SCAN` records; positions are indexes."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def scan(self, *, org: str, since: datetime | None, after: str | None) -> AsyncIterator[Entry]:
        records = await self._ledger.read(org=org, since=since, limit=MAX_SCAN)
        start = 0 if after is None else _index(after) + 1
        for index in range(start, len(records)):
            yield str(index), records[len(records) - 1 - index]


def _index(position: str) -> int:
    try:
        return int(position)
    except ValueError:
        message = f"'cursor' is not a position from this gateway: {position!r}"
        raise InvalidRequestError(message, param="cursor") from None


def _moment(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(f"'{name}' must be an ISO 8601 date or time, got {text!r}", param=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _split_tag(text: str) -> tuple[str, str | None]:
    # `key=value` as the CLI and header write tags, `key:value` as `/usage?tag=` does; a bare key matches any value.
    for separator in ("=", ":"):
        key, found, value = text.partition(separator)
        if found:
            return key.strip(), value.strip()
    return text.strip(), None


@dataclass(frozen=True)
class CallQuery:
    model: str | None = None
    status: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> CallQuery:
        status = params.get("status") or None
        if status is not None and status not in STATUS_CLASSES and not (status.isdigit() and len(status) == 3):
            raise InvalidRequestError("'status' must be 'ok', 'error' or an HTTP status code", param="status")
        tag_key, tag_value = _split_tag(params["tag"]) if params.get("tag") else (None, None)
        since, until = _moment("since", params.get("since")), _moment("until", params.get("until"))
        if since is not None and until is not None and until < since:
            raise InvalidRequestError("'until' is before 'since'", param="until")
        return cls(model=params.get("model") or None, status=status, tag_key=tag_key or None, tag_value=tag_value,
                   subject=params.get("subject") or None, since=since, until=until)

    def matches(self, record: LedgerRecord) -> bool:
        if self.model is not None and self.model not in (record.model_requested, record.model_routed,
                                                         record.model_served):
            return False
        if self.subject is not None and record.subject != self.subject:
            return False
        if self.status is not None and not _status_matches(self.status, record.status):
            return False
        if self.tag_key is not None and (self.tag_key not in record.tags or (
                self.tag_value is not None and record.tags[self.tag_key] != self.tag_value)):
            return False
        if self.since is not None or self.until is not None:
            moment = record.moment()
            if (self.since is not None and moment < self.since) or (self.until is not None and moment >= self.until):
                return False
        return True


def _status_matches(wanted: str, status: int) -> bool:
    if wanted == "ok":
        return 200 <= status < 400
    if wanted == "error":
        return not 200 <= status < 400
    return status == int(wanted)


@dataclass(frozen=True)
class CallPage:
    records: list[LedgerRecord]
    cursor: str | None  # where the next page starts; None when the ledger has nothing older


async def page(source: CallSource, org: str, query: CallQuery, *, after: str | None, limit: int,
               max_scan: int = MAX_SCAN) -> CallPage:
    """Up to `limit` matching records after position `after`. A full page looks on for one more match, so the last
    page says there is no next one; a page that hits `max_scan` resumes where it stopped looking."""
    found: list[LedgerRecord] = []
    scanned, last, page_end = 0, None, None
    async for position, record in source.scan(org=org, since=query.since, after=after):
        if scanned == max_scan:
            return CallPage(found, page_end if len(found) == limit else last)
        scanned, last = scanned + 1, position
        if record.org == org and query.matches(record):
            if len(found) == limit:
                return CallPage(found, page_end)  # another match exists past this page
            found.append(record)
            page_end = position
    return CallPage(found, None)


async def matching(source: CallSource, org: str, query: CallQuery, *, limit: int) -> AsyncIterator[LedgerRecord]:
    """Every record the query matches, newest first, at most `limit` (an export)."""
    count = scanned = 0
    async for _, record in source.scan(org=org, since=query.since, after=None):
        if count == limit or scanned == MAX_EXPORT_SCAN:
            return
        scanned += 1
        if record.org == org and query.matches(record):
            count += 1
            yield record


async def summarize(source: CallSource, org: str, query: CallQuery, *, max_scan: int = MAX_SCAN) -> dict[str, Any]:
    """Totals of every matching call (a run's cost, say); `complete` is false when the scan cap cut it short."""
    totals = {"calls": 0, "errors": 0, "cost_usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
    scanned = 0
    async for _, record in source.scan(org=org, since=query.since, after=None):
        if scanned == max_scan:
            return {**totals, "cost_usd": round(totals["cost_usd"], 9), "complete": False}
        scanned += 1
        if record.org == org and query.matches(record):
            totals["calls"] += 1
            totals["errors"] += 0 if 200 <= record.status < 400 else 1
            totals["cost_usd"] += record.cost_usd
            totals["prompt_tokens"] += record.prompt_tokens
            totals["completion_tokens"] += record.completion_tokens
    return {**totals, "cost_usd": round(totals["cost_usd"], 9), "complete": True}


async def find(source: CallSource, org: str, request_id: str) -> LedgerRecord | None:
    scanned = 0
    async for _, record in source.scan(org=org, since=None, after=None):
        if record.request_id == request_id and record.org == org:
            return record
        scanned += 1
        if scanned >= MAX_SCAN:
            return None
    return None
