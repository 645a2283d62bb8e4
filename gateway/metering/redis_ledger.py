"""Ledger on a Redis stream: one entry per call (field `r` = the record's JSON), bounded by count and age.

A record that cannot reach Redis is spooled to local disk, like a settlement, and replayed when Redis is back; each
append goes through a Lua script that first sets a short-lived marker per request id, so a replayed record (or one
whose XADD ran just before the connection died) is never appended twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from importlib import resources
from typing import Any

import orjson
import structlog
from redis.exceptions import RedisError

from gateway.limits.pipelined import PipelinedRedis
from gateway.limits.scripts import LuaScript, PipelinedScripts, RedisPyScripts, ScriptRunner
from gateway.metering.ledger import ErrorHook, ignore_error, matches
from gateway.metering.record import LedgerRecord
from gateway.redis_client import RedisClient
from gateway.spool_file import SpoolFile

log = structlog.get_logger(__name__)

DEFAULT_STREAM_KEY = "gw:ledger"
_FIELD = b"r"
_APPEND = LuaScript.of(resources.files("gateway.metering").joinpath("ledger_append.lua").read_bytes())


def _decode(fields: dict[Any, Any]) -> LedgerRecord | None:
    raw = fields.get(_FIELD, fields.get(_FIELD.decode()))
    if raw is None:
        return None
    try:
        return LedgerRecord.from_json(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None  # an entry some other writer put on the key; skip it rather than fail the whole read


def marker_key(stream_key: str, request_id: str) -> str:
    """In the stream's hash slot (a Redis Cluster runs a script only on keys of one slot)."""
    opening = stream_key.find("{")
    has_tag = opening != -1 and stream_key.find("}", opening + 2) != -1
    tagged = stream_key if has_tag else f"{{{stream_key}}}"
    return f"{tagged}:seen:{request_id}"


class RedisStreamLedger:
    """Shared by every replica. Entry ids are Redis server time at append, i.e. when the call finished.

    `read(since=...)` walks back from the newest entry and stops at entries appended before
    `since - max_call_s`: a record's timestamp is when its call started, so a call that ran longer than
    `max_call_s` and started just after `since` could be missed.

    Redis keeps a bounded window of the ledger; the JSONL files and their exports are the durable record. At most
    `maxlen` entries (approximately, so XADD stays O(1): Redis trims whole internal nodes and the stream may run a
    little over), none older than `max_age_s` (0 = no age limit). `dedupe_ttl_s` is how long a request id is
    remembered to keep replays from duplicating it: spooled records must be replayed within it.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        stream_key: str = DEFAULT_STREAM_KEY,
        maxlen: int = 1_000_000,
        approximate: bool = True,
        max_age_s: float = 0.0,
        dedupe_ttl_s: float = 86_400.0,
        max_call_s: float = 3600.0,
        batch: int = 1000,
        on_error: ErrorHook = ignore_error,
        pipelined: PipelinedRedis | None = None,
        spool: SpoolFile | None = None,
    ) -> None:
        self._redis = redis
        # The hot path's connection when there is one: appends ride along with settlements.
        self._scripts: ScriptRunner = PipelinedScripts(pipelined) if pipelined is not None else RedisPyScripts(redis)
        self._key = stream_key
        self._trim = (str(maxlen), "~" if approximate else "=", str(int(dedupe_ttl_s * 1000)),
                      str(int(max_age_s * 1000)))
        self._max_call_ms = int(max_call_s * 1000)
        self._batch = batch
        self._on_error = on_error
        self._spool = spool
        self._pending: list[LedgerRecord] = []
        self._flushing: asyncio.Task[None] | None = None

    async def append(self, record: LedgerRecord) -> None:
        """Queue the record; records arriving together go to Redis in one pipelined round trip.

        Under load this turns one round trip per call into one per batch; a lone call waits one loop tick.
        """
        self._pending.append(record)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush_soon())
        await asyncio.shield(self._flushing)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0)  # let the other calls finishing in this tick join the batch
        while self._pending:
            batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
            await self._write_or_spool(batch)

    async def _write_or_spool(self, batch: list[LedgerRecord]) -> None:
        try:
            lines = [record.to_json() for record in batch]
        except orjson.JSONEncodeError as exc:
            self._lost(batch, exc)
            return
        try:
            await self._write(batch, lines)
        except (RedisError, OSError) as exc:
            await self._spool_lines(batch, lines, exc)

    async def _write(self, batch: list[LedgerRecord], lines: list[bytes]) -> None:
        """Issued in one tick, so on the pipelined connection the whole batch leaves in one write."""
        results = await asyncio.gather(
            *(self._scripts.run(_APPEND, (self._key, marker_key(self._key, record.request_id)), (line, *self._trim))
              for record, line in zip(batch, lines, strict=True)),
            return_exceptions=True,
        )
        failure = next((result for result in results if isinstance(result, BaseException)), None)
        if failure is not None:
            raise failure  # the whole batch is spooled: the ones that did get in are skipped on replay

    async def _spool_lines(self, batch: list[LedgerRecord], lines: list[bytes], cause: Exception) -> None:
        if self._spool is None:
            self._lost(batch, cause)
            return
        try:
            await self._spool.append(line + b"\n" for line in lines)
        except OSError as exc:
            self._lost(batch, exc)
            return
        log.warning("ledger_spooled", ledger="redis", records=len(batch), error=repr(cause))

    def _lost(self, batch: list[LedgerRecord], exc: Exception) -> None:
        for record in batch:
            log.warning("ledger_append_failed", ledger="redis", request_id=record.request_id, error=repr(exc))
            self._on_error()

    def spool_pending(self) -> bool:
        return self._spool is not None and self._spool.pending()

    async def replay_spool(self) -> int:
        """Append the spooled records (never twice); raises the redis error and keeps the batch if Redis is away."""
        if self._spool is None or not self._spool.pending():
            return 0
        replayed = 0
        async with self._spool.claimed() as lines:
            for start in range(0, len(lines), self._batch):
                chunk = lines[start : start + self._batch]
                records = [LedgerRecord.from_json(line) for line in chunk]
                await self._write(records, chunk)
                replayed += len(chunk)
        return replayed

    async def read(
        self, *, org: str | None, since: datetime | None, limit: int, tags: Mapping[str, str] | None = None
    ) -> list[LedgerRecord]:
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
                if record is not None and matches(record, org, since, tags):
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
