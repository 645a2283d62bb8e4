"""How Redis clients are made: timeouts given by the caller, options in the URL, a blocking pool, a cluster client."""

from __future__ import annotations

import redis.asyncio as aioredis

from gateway.redis_client import open_redis


def test_options_in_the_url_win_over_the_callers_defaults() -> None:
    from_url = open_redis("redis://127.0.0.1:6379/3?socket_timeout=3&socket_connect_timeout=2")
    assert isinstance(from_url, aioredis.Redis)
    kwargs = from_url.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"], kwargs["db"]) == (3.0, 2.0, 3)
    # An operator's REDIS_URL options beat the defaults the admin CLI passes (redis-py's own precedence).
    given = open_redis("redis://127.0.0.1:6379/3?socket_timeout=3", socket_timeout_s=15, connect_timeout_s=5)
    kwargs = given.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (3.0, 5)
    default = open_redis("redis://127.0.0.1:6379/3", socket_timeout_s=15).connection_pool.connection_kwargs
    assert default["socket_timeout"] == 15


def test_the_gateways_pool_makes_requests_wait_for_a_connection() -> None:
    client = open_redis("redis://127.0.0.1:6379/0?socket_timeout=4", max_connections=7)
    assert isinstance(client, aioredis.Redis)
    pool = client.connection_pool
    assert isinstance(pool, aioredis.BlockingConnectionPool)
    assert pool.max_connections == 7
    assert pool.connection_kwargs["socket_timeout"] == 4.0


def test_a_cluster_url_gets_the_cluster_client() -> None:
    assert isinstance(open_redis("redis://127.0.0.1:7000", cluster=True, max_connections=50), aioredis.RedisCluster)
