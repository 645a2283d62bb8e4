from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from gateway.metering import FanoutLedger, LedgerRecord, MemoryLedger
from tests.metering.conftest import BASE


async def test_read_filters_by_org_and_since_and_keeps_the_newest(
    records_at: Callable[[int], list[LedgerRecord]],
) -> None:
    ledger = MemoryLedger()
    records = records_at(10)
    for record in records:
        await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=100) == records
    assert await ledger.read(org="acme", since=None, limit=100) == records[0::2]
    assert await ledger.read(org=None, since=BASE + timedelta(minutes=7), limit=100) == records[7:]
    assert await ledger.read(org="globex", since=None, limit=2) == [records[7], records[9]]
    assert await ledger.read(org=None, since=None, limit=0) == []


async def test_memory_ledger_is_bounded(records_at: Callable[[int], list[LedgerRecord]]) -> None:
    ledger = MemoryLedger(maxlen=3)
    records = records_at(5)
    for record in records:
        await ledger.append(record)
    assert await ledger.read(org=None, since=None, limit=10) == records[2:]


class BrokenLedger:
    """Stands in for a sink that fails; real ledgers swallow their errors, so this one does too but records it."""

    def __init__(self) -> None:
        self.attempts = 0

    async def append(self, record: LedgerRecord) -> None:
        self.attempts += 1

    async def read(self, *, org: str | None, since: datetime | None, limit: int) -> list[LedgerRecord]:
        return []

    async def aclose(self) -> None:
        return None


async def test_fanout_writes_to_every_ledger_and_reads_from_the_first(
    records_at: Callable[[int], list[LedgerRecord]],
) -> None:
    first, second, third = MemoryLedger(), MemoryLedger(), BrokenLedger()
    fanout = FanoutLedger([first, second, third])
    records = records_at(3)
    for record in records:
        await fanout.append(record)
    assert await first.read(org=None, since=None, limit=10) == records
    assert await second.read(org=None, since=None, limit=10) == records
    assert third.attempts == 3
    await second.append(records[0])
    assert await fanout.read(org=None, since=None, limit=10) == records
    await fanout.aclose()


def test_fanout_needs_a_ledger() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FanoutLedger([])
