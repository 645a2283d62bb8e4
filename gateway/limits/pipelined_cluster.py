"""The hot path's Lua scripts on a Redis Cluster: one auto-pipelined connection per node, routed by key slot.

redis-py's cluster client checks a connection out of a per-node pool for every command and raises
`MaxConnectionsError` when the pool is full instead of queueing, so a burst answered 503 "rate limit store busy".
Here every node gets one `PipelinedRedis`: concurrent calls queue on it and leave in one write, as on a standalone
Redis, and nothing is refused for want of a connection. All of an org's keys share one hash slot (`gw:{org}:…`),
so a script goes to the node owning its first key. The slot map is redis-py's (its `NodesManager`), refreshed when
a node answers MOVED or a connection to it fails; ASK is followed for the one command it names.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis import exceptions as redis_errors
from redis.crc import key_slot

from gateway.limits.pipelined import Arg, PipelinedRedis

log = structlog.get_logger(__name__)

# Redirections and TRYAGAIN during a resharding or failover settle within a few tries; a slot whose keys are
# still moving after ~0.5 s is answered as a busy store (503) rather than holding the request.
_MAX_ATTEMPTS = 10
_TRYAGAIN_WAIT_S = 0.05


def _redirect(error: redis_errors.ResponseError) -> tuple[str, str, int] | None:
    """("MOVED" | "ASK", host, port) for a redirection reply ("MOVED 3999 127.0.0.1:6381"), else None."""
    parts = str(error).split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = parts[2].rpartition(":")
    return parts[0], host, int(port)


class PipelinedCluster:
    """Pipelined connections to the primaries of the cluster a redis-py `RedisCluster` client knows.

    Raises redis-py's exceptions, as `PipelinedRedis` does; the client itself is not closed here.
    """

    def __init__(self, client: aioredis.RedisCluster) -> None:
        self._client = client
        kwargs = client.get_connection_kwargs()
        self._credentials = (kwargs.get("username"), kwargs.get("password"))
        self._connect_timeout_s = float(kwargs.get("socket_connect_timeout") or 5.0)
        self._reply_timeout_s = float(kwargs.get("socket_timeout") or 10.0)
        self._nodes: dict[tuple[str, int], PipelinedRedis] = {}

    @classmethod
    def mirroring(cls, client: object) -> PipelinedCluster | None:
        """For a cluster client over plain TCP with a password at most (TLS and the like stay on redis-py)."""
        if not isinstance(client, aioredis.RedisCluster):
            return None
        kwargs = client.get_connection_kwargs()
        if kwargs.get("connection_class", aioredis.Connection) is not aioredis.Connection:
            return None
        if kwargs.get("credential_provider") is not None or kwargs.get("protocol") not in (None, 2, "2"):
            return None
        return cls(client)

    def _node(self, host: str, port: int) -> PipelinedRedis:
        connection = self._nodes.get((host, port))
        if connection is None:
            username, password = self._credentials
            connection = PipelinedRedis(host, port, username=username, password=password,
                                        connect_timeout_s=self._connect_timeout_s,
                                        reply_timeout_s=self._reply_timeout_s)
            self._nodes[(host, port)] = connection
        return connection

    async def _owner(self, slot: int) -> PipelinedRedis:
        manager = self._client.nodes_manager
        if not manager.slots_cache:
            await self._client.initialize()  # the first call: redis-py reads the slot map
        node = manager.get_node_from_slot(slot)
        return self._node(node.host, int(node.port))

    async def _refresh(self) -> None:
        # redis-py's refresh is serialised and skipped by callers that waited for one already done.
        try:
            await self._client.nodes_manager.initialize()
        except redis_errors.RedisError as exc:  # no node answered: the next call tries again
            log.warning("redis_cluster_slot_refresh_failed", error=str(exc))

    async def execute(self, key: str, *args: Arg) -> Any:
        """Run one command on the primary owning `key`'s slot (or the node an ASK names, for this command)."""
        slot = key_slot(key.encode())
        asked: tuple[str, int] | None = None
        for _ in range(_MAX_ATTEMPTS):
            try:
                if asked is not None:
                    return await self._node(*asked).execute_asking(*args)
                return await (await self._owner(slot)).execute(*args)
            except redis_errors.ConnectionError:
                await self._refresh()  # a failed-over primary: this call fails, the next finds the new one
                raise
            except redis_errors.TryAgainError:  # a multi-key script while its slot migrates: wait for the move
                asked = None
                await asyncio.sleep(_TRYAGAIN_WAIT_S)
            except redis_errors.ResponseError as exc:
                redirect = _redirect(exc)
                if redirect is None:
                    raise
                kind, host, port = redirect
                asked = (host, port) if kind == "ASK" else None
                if kind == "MOVED":
                    await self._refresh()
        raise redis_errors.TryAgainError(f"slot {slot} still moving after {_MAX_ATTEMPTS} attempts")

    async def ping(self) -> bool:
        """Every primary answers PING (the store is only usable when all of them do)."""
        manager = self._client.nodes_manager
        if not manager.slots_cache:
            await self._client.initialize()
        primaries = {(node.host, int(node.port)) for nodes in manager.slots_cache.values() for node in nodes[:1]}
        replies = await asyncio.gather(*(self._node(*address).execute(b"PING") for address in primaries))
        return all(replies)

    async def aclose(self) -> None:
        for connection in self._nodes.values():
            await connection.aclose()
        self._nodes.clear()
