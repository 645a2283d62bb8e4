"""Ledger on a Redis stream: one XADD per call (field `r` = the record's JSON), trimmed to about `maxlen`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
import structlog
from redis.exceptions import RedisError

from gateway.limits.pipelined import PipelinedRedis
from gateway.metering.ledger import ErrorHook, ignore_error, matches
from gateway.metering.record import LedgerRecord
from gateway.redis_client import RedisClient

log = structlog.get_logger(__name__)

DEFAULT_STREAM_KEY = "gw:ledger"
_FIELD = b"r"


def _decode(fields: dict[Any, Any]) -> LedgerRecord | None:
    raw = fields.get(_FIELD, fields.get(_FIELD.decode()))
    if raw is None:
        return None
    try:
        return LedgerRecord.from_json(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None  # an entry some other writer put on the key; skip it rather than fail the whole read


class RedisStreamLedger:
    """Shared by every replica. Entry ids are Redis server time at append, i.e. when the call finished.

    `read(since=...)` walks back from the newest entry and stops at entries appended before
    `since - max_call_s`: a record's timestamp is when its call started, so a call that ran longer than
    `max_call_s` and started just after `since` could be missed. Approximate trimming (`MAXLEN ~`) keeps XADD
    O(1); Redis then trims whole internal nodes, so the stream may run a little over `maxlen`.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        stream_key: str = DEFAULT_STREAM_KEY,
        maxlen: int = 1_000_000,
        approximate: bool = True,
        max_call_s: float = 3600.0,
        batch: int = 1000,
        on_error: ErrorHook = ignore_error,
        pipelined: PipelinedRedis | None = None,
    ) -> None:
        self._redis = redis
        self._pipelined = pipelined  # the hot path's connection: XADDs ride along with settlements
        self._key = stream_key
        self._maxlen = maxlen
        self._approximate = approximate
        self._max_call_ms = int(max_call_s * 1000)
        self._batch = batch
        self._on_error = on_error
        self._pending: list[LedgerRecord] = []
        self._flushing: asyncio.Task[None] | None = None

    async def append(self, record: LedgerRecord) -> None:
        """Queue the record; records arriving together go to Redis in one pipelined round trip.

        Under load this turns one XADD round trip per call into one per batch; a lone call waits one loop tick.
        """
        self._pending.append(record)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush_soon())
        await asyncio.shield(self._flushing)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0)  # let the other calls finishing in this tick join the batch
        while self._pending:
            batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
            await self._write(batch)

    async def _write(self, batch: list[LedgerRecord]) -> None:
        try:
            if self._pipelined is not None:
                await self._write_pipelined(self._pipelined, batch)
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for record in batch:
                    pipe.xadd(self._key, {_FIELD: record.to_json()}, maxlen=self._maxlen,
                              approximate=self._approximate)
                await pipe.execute()
        except (RedisError, OSError, orjson.JSONEncodeError) as exc:
            for record in batch:
                log.warning("ledger_append_failed", ledger="redis", request_id=record.request_id, error=repr(exc))
                self._on_error()

    async def _write_pipelined(self, connection: PipelinedRedis, batch: list[LedgerRecord]) -> None:
        """Issued in one tick, so the whole batch leaves in one write on the shared connection."""
        trim = (b"MAXLEN", b"~" if self._approximate else b"=", self._maxlen)
        results = await asyncio.gather(
            *(connection.execute(b"XADD", self._key, *trim, b"*", _FIELD, record.to_json()) for record in batch),
            return_exceptions=True,
        )
        failure = next((result for result in results if isinstance(result, BaseException)), None)
        if failure is not None:
            raise failure

    async def read(self, *, org: str | None, since: datetime | None, limit: int) -> list[LedgerRecord]:
        """Raises redis errors: this is an admin read, and an empty answer would be mistaken for no spend."""
        if limit <= 0:
            return []
        lowest = "-" if since is None else str(max(0, int(since.timestamp() * 1000) - self._max_call_ms))
        found: list[LedgerRecord] = []
        upper: bytes | str = "+"
        while len(found) < limit:
            entries = await self._redis.xrevrange(self._key, max=upper, min=lowest, count=self._batch)
            for _, fields in entries:
                record = _decode(fields)
                if record is not None and matches(record, org, since):
                    found.append(record)
                    if len(found) == limit:
                        break
            if len(entries) < self._batch:
                break
            last_id = entries[-1][0]
            upper = b"(" + last_id if isinstance(last_id, bytes) else f"({last_id}"
        found.reverse()
        return found

    async def aclose(self) -> None:
        # Write what is queued; the client belongs to the app factory, which closes it.
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        if self._pending:
            await self._flush_soon()


async def scan_newest(
    redis: RedisClient, *, stream_key: str = DEFAULT_STREAM_KEY, before: str | None = None,
    lowest_ms: int | None = None, batch: int = 500,
) -> AsyncIterator[tuple[str, LedgerRecord]]:
    """(entry id, record) newest first, for paging through the ledger (the admin console's calls view).

    `before` is an entry id to resume strictly after (older than); `lowest_ms` stops at entries appended
    before that server time. Read-only, and lazy: a caller that stops iterating reads no further batches.
    """
    upper = "+" if before is None else f"({before}"
    lowest = "-" if lowest_ms is None else str(max(0, lowest_ms))
    while True:
        entries = await redis.xrevrange(stream_key, max=upper, min=lowest, count=batch)
        for entry_id, fields in entries:
            record = _decode(fields)
            if record is not None:
                yield (entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)), record
        if len(entries) < batch:
            return
        last_id = entries[-1][0]
        upper = "(" + (last_id.decode() if isinstance(last_id, bytes) else str(last_id))
