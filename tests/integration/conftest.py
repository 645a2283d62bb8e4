from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.durable_redis import DurableRedis


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[DurableRedis]:
    server = DurableRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
