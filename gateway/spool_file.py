"""A local append-only JSONL file of writes that could not reach Redis, and the hand-over of it to a replay.

New lines go to `path`; a replay first renames `path` to `path.replaying` and works from there, so lines appended
during a replay wait in a fresh `path` for the next round. A replay that fails leaves `path.replaying` on disk and
the next one starts with it. Whatever is replayed must be idempotent: a crash after some lines were applied, or two
replays of one batch, must not count anything twice.

Each process has its own file (`<stem>-<pid>.jsonl`, see `for_process`), so workers never append to or claim each
other's. The files of a process that died (a crash, a restart) are adopted by a live one at its next replay, so
nothing waits on disk for a pid that will never come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from gateway.processes import is_alive


class SpoolFile:
    def __init__(self, path: str | os.PathLike[str], *, stem: str | None = None) -> None:
        """`stem` names the per-process files (`<stem>-<pid>.jsonl`) whose orphans this one adopts."""
        self.path = Path(path)
        self.replaying_path = self.path.with_name(self.path.name + ".replaying")
        self._stem = stem
        # Appends and the hand-over to replay must not interleave, or a line could land in a file already read.
        self._write_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()

    @classmethod
    def for_process(cls, directory: str | os.PathLike[str], stem: str) -> SpoolFile:
        return cls(Path(directory) / f"{stem}-{os.getpid()}.jsonl", stem=stem)

    def pending(self) -> bool:
        return self.path.exists() or self.replaying_path.exists() or bool(self._orphans())

    def _orphans(self) -> list[Path]:
        """Spool files of processes of the same stem that no longer exist."""
        if self._stem is None or not self.path.parent.is_dir():
            return []
        found = []
        for candidate in self.path.parent.glob(f"{self._stem}-*.jsonl*"):
            pid = candidate.name[len(self._stem) + 1:].removesuffix(".replaying").removesuffix(".jsonl")
            if pid.isdigit() and int(pid) != os.getpid() and not is_alive(int(pid)):
                found.append(candidate)
        return found

    async def append(self, lines: Iterable[bytes]) -> None:
        """Each item is one complete line, newline included; all of them reach the disk (fsync) before returning."""
        data = b"".join(lines)
        async with self._write_lock:
            await asyncio.to_thread(self._append, data)

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the spool exists so that what it holds survives a crash

    @contextlib.asynccontextmanager
    async def claimed(self) -> AsyncIterator[list[bytes]]:
        """The non-empty lines of the batch to replay; the batch is deleted only if the block ends without error."""
        async with self._replay_lock:
            async with self._write_lock:
                await asyncio.to_thread(self._claim)
            if not self.replaying_path.exists():
                yield []
                return
            data = await asyncio.to_thread(self.replaying_path.read_bytes)
            yield [line for line in data.splitlines() if line.strip()]
            await asyncio.to_thread(self.replaying_path.unlink)

    def _claim(self) -> None:
        self._adopt_orphans()
        # A batch left by a failed replay goes first; new lines wait in `path` for the next round.
        if not self.replaying_path.exists() and self.path.exists():
            self.path.rename(self.replaying_path)

    def _adopt_orphans(self) -> None:
        for orphan in self._orphans():
            taken = self.path.with_name(f"{self.path.name}.adopting")
            try:
                orphan.rename(taken)  # atomic: of two live processes adopting one orphan, one gets it
            except FileNotFoundError:
                continue
            # A crash between the append and the unlink replays these lines twice, which replay tolerates.
            self._append(taken.read_bytes())
            taken.unlink()
