"""The ledger seam: where call records go, and the in-process and fan-out implementations."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from gateway.metering.record import LedgerRecord

# Called once per record that could not be written, e.g. `Metrics.ledger_error` (gateway_ledger_errors_total).
ErrorHook = Callable[[], None]


class Ledger(Protocol):
    async def append(self, record: LedgerRecord) -> None:
        """Store a record. Never raises: the request path calls this from `finally`."""

    async def read(
        self, *, org: str | None, since: datetime | None, limit: int, tags: Mapping[str, str] | None = None
    ) -> list[LedgerRecord]:
        """The newest `limit` records matching `org`, `timestamp >= since` and every tag in `tags`, oldest first."""
        ...

    async def replay_spool(self) -> int:
        """Write records spooled while their store was away (never twice); how many. Raises if still away."""
        ...

    async def aclose(self) -> None:
        """Flush what is pending and release resources."""


def ignore_error() -> None:
    """Default ErrorHook, for ledgers built without metrics (tests, CLI)."""


def matches(
    record: LedgerRecord, org: str | None, since: datetime | None, tags: Mapping[str, str] | None = None
) -> bool:
    if org is not None and record.org != org:
        return False
    if tags and any(record.tags.get(key) != value for key, value in tags.items()):
        return False
    return since is None or record.moment() >= since


def newest(
    records: Iterable[LedgerRecord], org: str | None, since: datetime | None, limit: int,
    tags: Mapping[str, str] | None = None,
) -> list[LedgerRecord]:
    """Filter records given oldest first, keeping the last `limit`, in memory proportional to `limit`."""
    if limit <= 0:
        return []
    kept: deque[LedgerRecord] = deque(maxlen=limit)
    kept.extend(record for record in records if matches(record, org, since, tags))
    return list(kept)


class MemoryLedger:
    """The embedded default and the tests' ledger: the last `maxlen` records of this process."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._records: deque[LedgerRecord] = deque(maxlen=maxlen)

    async def append(self, record: LedgerRecord) -> None:
        self._records.append(record)

    async def read(
        self, *, org: str | None, since: datetime | None, limit: int, tags: Mapping[str, str] | None = None
    ) -> list[LedgerRecord]:
        return newest(self._records, org, since, limit, tags)

    async def replay_spool(self) -> int:
        return 0  # appends cannot fail, so nothing is ever spooled

    async def aclose(self) -> None:
        return None


class FanoutLedger:
    """Writes every record to all ledgers (e.g. Redis stream and a JSONL file); reads from the first."""

    def __init__(self, ledgers: Sequence[Ledger]) -> None:
        if not ledgers:
            raise ValueError("FanoutLedger needs at least one ledger")
        self._ledgers = list(ledgers)

    async def append(self, record: LedgerRecord) -> None:
        # Each ledger swallows and counts its own failures, so one slow or broken sink cannot stop the others.
        await asyncio.gather(*(ledger.append(record) for ledger in self._ledgers))

    async def read(
        self, *, org: str | None, since: datetime | None, limit: int, tags: Mapping[str, str] | None = None
    ) -> list[LedgerRecord]:
        return await self._ledgers[0].read(org=org, since=since, limit=limit, tags=tags)

    async def replay_spool(self) -> int:
        return sum([await ledger.replay_spool() for ledger in self._ledgers])

    async def aclose(self) -> None:
        await asyncio.gather(*(ledger.aclose() for ledger in self._ledgers))
