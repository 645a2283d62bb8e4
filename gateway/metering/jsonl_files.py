"""Blocking file side of the JSONL ledger: size-rotated append-only files, safe for several worker processes.

Every batch is written under an exclusive `flock` on a lock file beside the ledger, so uvicorn workers sharing
a directory neither interleave lines nor rotate under one another; a writer whose file was rotated away by
another process notices (the path's inode changed) and reopens. Only ever called from a worker thread.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import orjson

from gateway.metering.record import LedgerRecord


class RotatingJsonlFile:
    def __init__(self, directory: Path, *, name: str = "ledger", max_bytes: int = 64 * 1024 * 1024,
                 backups: int = 10) -> None:
        self.directory = directory
        self.path = directory / f"{name}.jsonl"
        self._lock_path = directory / f".{name}.lock"
        self._max_bytes = max_bytes
        self._backups = backups
        self._handle: BinaryIO | None = None
        self._lock: BinaryIO | None = None

    def backup_path(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def write(self, lines: Sequence[bytes]) -> None:
        """Append lines (each ending in a newline), rotating first whenever the next line would overflow."""
        if self._lock is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock = open(self._lock_path, "ab")  # noqa: SIM115 - held for the writer's lifetime
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            handle = self._current()
            size = os.fstat(handle.fileno()).st_size
            for line in lines:
                if size > 0 and size + len(line) > self._max_bytes:
                    handle.flush()
                    handle = self._rotate()
                    size = 0
                handle.write(line)
                size += len(line)
            handle.flush()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _current(self) -> BinaryIO:
        try:
            on_disk = os.stat(self.path).st_ino
        except FileNotFoundError:
            on_disk = None
        if self._handle is not None and on_disk == os.fstat(self._handle.fileno()).st_ino:
            return self._handle
        self._close_handle()
        handle = open(self.path, "ab")  # noqa: SIM115 - kept open across batches, closed on rotate/close
        self._handle = handle
        self._terminate_partial_line(handle)
        return handle

    def _terminate_partial_line(self, handle: BinaryIO) -> None:
        # A process killed mid-write leaves a line without its newline; without this the next record would be
        # glued onto it and both would be unreadable.
        if os.fstat(handle.fileno()).st_size == 0:
            return
        with open(self.path, "rb") as reader:  # the append handle is write-only
            reader.seek(-1, os.SEEK_END)
            if reader.read(1) != b"\n":
                handle.write(b"\n")

    def _rotate(self) -> BinaryIO:
        self._close_handle()
        if self._backups <= 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(self._backups - 1, 0, -1):
                older = self.backup_path(index)
                if older.exists():
                    older.replace(self.backup_path(index + 1))
            self.path.replace(self.backup_path(1))
        return self._current()

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self._close_handle()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def files_oldest_first(self) -> list[Path]:
        candidates = [self.backup_path(i) for i in range(self._backups, 0, -1)] + [self.path]
        return [path for path in candidates if path.exists()]

    def records(self) -> Iterator[LedgerRecord]:
        """Every readable record, oldest first. Lines that do not parse (a torn write) are skipped.

        Reads take no lock, so a rotation by a concurrent writer can make one read miss or repeat a file.
        """
        for path in self.files_oldest_first():
            try:
                with open(path, "rb") as handle:
                    for line in handle:
                        record = _parse(line)
                        if record is not None:
                            yield record
            except FileNotFoundError:
                continue  # rotated out between listing and opening


def _parse(line: bytes) -> LedgerRecord | None:
    if not line.strip():
        return None
    try:
        return LedgerRecord.from_json(line)
    except (orjson.JSONDecodeError, TypeError):
        return None
