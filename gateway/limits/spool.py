"""Local append-only JSONL of settlements that could not reach Redis, replayed when it is back.

Replay is safe to repeat: settlement is idempotent per request id, so a crash halfway through a replay,
or two replays of the same file, never count spend twice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from gateway.limits.types import Budget, BudgetAlert, Settlement

SettleFunction = Callable[[Settlement], Awaitable[list[BudgetAlert]]]


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0  # lines that were not a settlement (e.g. torn by a crash mid-write)
    alerts: list[BudgetAlert] = field(default_factory=list)


def encode(settlement: Settlement) -> bytes:
    return orjson.dumps(asdict(settlement)) + b"\n"


def decode(line: bytes) -> Settlement:
    data = orjson.loads(line)
    budget = data.pop("budget", None) or {}
    return Settlement(**data, budget=Budget(**budget))


class SettlementSpool:
    """`path` receives new settlements; `path` + ".replaying" holds the batch being replayed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.replaying_path = self.path.with_name(self.path.name + ".replaying")
        # Appends and the hand-over to replay must not interleave, or a line could land in a file already read.
        self._write_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()

    def pending(self) -> bool:
        return self.path.exists() or self.replaying_path.exists()

    async def append(self, settlement: Settlement) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self._append_line, encode(settlement))

    def _append_line(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())  # the spool exists so that spend survives a crash

    async def replay(self, settle: SettleFunction) -> ReplayReport:
        """Settle every spooled line; on failure the unreplayed batch stays on disk for the next replay."""
        async with self._replay_lock:
            async with self._write_lock:
                await asyncio.to_thread(self._claim)
            report = ReplayReport()
            if not self.replaying_path.exists():
                return report
            lines = await asyncio.to_thread(self.replaying_path.read_bytes)
            for line in lines.splitlines():
                if not line.strip():
                    continue
                try:
                    settlement = decode(line)
                except (orjson.JSONDecodeError, TypeError):
                    report.skipped += 1
                    continue
                report.alerts.extend(await settle(settlement))
                report.replayed += 1
            await asyncio.to_thread(self.replaying_path.unlink)
            return report

    def _claim(self) -> None:
        # A batch left by a failed replay goes first; new lines wait in `path` for the next round.
        if not self.replaying_path.exists() and self.path.exists():
            self.path.rename(self.replaying_path)
