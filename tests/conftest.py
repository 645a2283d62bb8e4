from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from subprocess import Popen

import pytest
import redis.asyncio as aioredis

from tests.redis_cluster import redis_cluster
from tests.redis_server import locate_or_start


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url, proc = locate_or_start()
    started: Popen[bytes] | None = proc
    try:
        yield url
    finally:
        if started is not None:
            started.terminate()
            started.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """One node's URL of a three-node Redis Cluster started for this test session."""
    with redis_cluster() as url:
        yield url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client on the dedicated test db, flushed before each test."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
