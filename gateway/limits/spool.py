"""Local append-only JSONL of settlements that could not reach Redis, replayed when it is back.

Replay is safe to repeat: settlement is idempotent per request id, so a crash halfway through a replay,
or two replays of the same file, never count spend twice.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from gateway.limits.types import Budget, BudgetAlert, Settlement
from gateway.spool_file import SpoolFile

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

    def __init__(self, path: str | os.PathLike[str] | SpoolFile) -> None:
        self._file = path if isinstance(path, SpoolFile) else SpoolFile(path)

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def replaying_path(self) -> Path:
        return self._file.replaying_path

    def pending(self) -> bool:
        return self._file.pending()

    async def append(self, settlement: Settlement) -> None:
        await self._file.append([encode(settlement)])

    async def replay(self, settle: SettleFunction) -> ReplayReport:
        """Settle every spooled line; on failure the unreplayed batch stays on disk for the next replay."""
        report = ReplayReport()
        async with self._file.claimed() as lines:
            for line in lines:
                try:
                    settlement = decode(line)
                except (orjson.JSONDecodeError, TypeError):
                    report.skipped += 1
                    continue
                report.alerts.extend(await settle(settlement))
                report.replayed += 1
        return report
