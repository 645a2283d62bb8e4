from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.metering import LedgerRecord

_ids = itertools.count()
BASE = datetime(2025, 6, 18, 12, 0, 0, tzinfo=UTC)

RecordFactory = Callable[..., LedgerRecord]


def make_record(*, org: str = "acme", at: datetime | None = None, **changes: Any) -> LedgerRecord:
    record = LedgerRecord.start(
        request_id=f"req-{next(_ids)}",
        org=org,
        subject="alice",
        task="summarise",
        model_requested="summarise",
        model_routed="openai/gpt-4o-mini",
        body={"model": "summarise", "messages": [{"role": "user", "content": "hello"}], "temperature": 0.2},
        now=at or BASE,
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


@pytest.fixture
def records_at() -> Callable[[int], list[LedgerRecord]]:
    """`count` records one minute apart from BASE, alternating orgs acme/globex."""

    def build(count: int) -> list[LedgerRecord]:
        return [make_record(org="acme" if i % 2 == 0 else "globex", at=BASE + timedelta(minutes=i))
                for i in range(count)]

    return build
