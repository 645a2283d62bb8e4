"""Ledger as local JSONL files: appends are queued and written in batches by one background task."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import orjson
import structlog

from gateway.metering.jsonl_files import RotatingJsonlFile
from gateway.metering.ledger import ErrorHook, ignore_error, newest
from gateway.metering.record import LedgerRecord

log = structlog.get_logger(__name__)


class JsonlLedger:
    """Append-only `<directory>/<name>.jsonl`, rotated at `max_bytes` into `.1` … `.<backups>`.

    `append` only serialises and enqueues, so the event loop never waits on the disk; the writer task drains
    the queue in batches through `asyncio.to_thread`. Past `max_pending` queued lines (a stuck disk) records
    are dropped and counted rather than held in memory without bound. `aclose()` writes everything queued.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        name: str = "ledger",
        max_bytes: int = 64 * 1024 * 1024,
        backups: int = 10,
        max_pending: int = 100_000,
        batch: int = 1000,
        on_error: ErrorHook = ignore_error,
    ) -> None:
        self._file = RotatingJsonlFile(Path(directory), name=name, max_bytes=max_bytes, backups=backups)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._max_pending = max_pending
        self._batch = batch
        self._on_error = on_error
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        return self._file.path

    async def append(self, record: LedgerRecord) -> None:
        reason = None
        if self._closed:
            reason = "closed"
        elif self._queue.qsize() >= self._max_pending:
            reason = "queue_full"
        else:
            try:
                self._queue.put_nowait(record.to_json() + b"\n")
            except orjson.JSONEncodeError:
                reason = "unserialisable"
        if reason is not None:
            log.warning("ledger_append_failed", ledger="jsonl", request_id=record.request_id, error=reason)
            self._on_error()
            return
        self._ensure_writer()

    def _ensure_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            lines = [line for line in batch if line is not None]
            try:
                if lines:
                    await asyncio.to_thread(self._file.write, lines)
            except OSError as exc:
                log.warning("ledger_append_failed", ledger="jsonl", records=len(lines), error=repr(exc))
                for _ in lines:
                    self._on_error()
            finally:
                for _ in batch:
                    self._queue.task_done()
            if len(lines) < len(batch):  # the close sentinel: everything before it is on disk
                return

    async def flush(self) -> None:
        """Wait until every record appended so far has been written."""
        if self._writer is not None and not self._writer.done():
            await self._queue.join()

    async def read(
        self, *, org: str | None, since: datetime | None, limit: int, tags: Mapping[str, str] | None = None
    ) -> list[LedgerRecord]:
        await self.flush()
        return await asyncio.to_thread(lambda: newest(self._file.records(), org, since, limit, tags))

    async def replay_spool(self) -> int:
        return 0  # the files are the local disk a spool would be on: nothing to spool them to

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        self._ensure_writer()
        if self._writer is not None:
            await self._writer
        await asyncio.to_thread(self._file.close)
