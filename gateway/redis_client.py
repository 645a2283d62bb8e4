"""The one place a Redis client is made: a standalone server, or a Redis Cluster with `GATEWAY_REDIS_CLUSTER=true`.

Every key an operation touches together shares a hash tag (an org's `{org}`, a model's `{model}`), so the same
commands and Lua scripts run on either; with a cluster client redis-py routes each to the node owning its slot.
"""

from __future__ import annotations

import redis.asyncio as aioredis

RedisClient = aioredis.Redis | aioredis.RedisCluster


def open_redis(
    url: str,
    *,
    cluster: bool = False,
    max_connections: int | None = None,
    connect_timeout_s: float | None = None,
    socket_timeout_s: float | None = None,
) -> RedisClient:
    """Raises ValueError for a URL redis-py cannot use. `max_connections` bounds each pool (one per cluster node)."""
    timeouts = {"socket_connect_timeout": connect_timeout_s, "socket_timeout": socket_timeout_s}
    if cluster:
        extra = {} if max_connections is None else {"max_connections": max_connections}
        return aioredis.RedisCluster.from_url(url, **timeouts, **extra)
    if max_connections is None:
        return aioredis.Redis.from_url(url, **timeouts)
    # A blocking pool: under a burst, requests wait for a connection instead of failing.
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=5, **timeouts)
    return aioredis.Redis(connection_pool=pool)
