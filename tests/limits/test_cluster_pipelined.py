"""The limits scripts on a real three-node Redis Cluster: queued on one pipelined connection per node, never refused.

redis-py's cluster pools raise MaxConnectionsError when full instead of queueing; the hot path must not depend on
them. The client here gets pools of two connections, so a burst of 200 that went through them would fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.crc import key_slot

from gateway.limits import Budget, RateLimits, RedisLimiterBackend, Settlement
from gateway.limits.keys import OrgKeys
from gateway.limits.pipelined_cluster import PipelinedCluster
from tests.limits.conftest import ask

LIMITS = RateLimits(rpm=100_000, tpm=10_000_000, max_concurrent=1_000)


@pytest.fixture
async def tight_cluster(redis_cluster_url: str) -> AsyncIterator[aioredis.RedisCluster]:
    client = aioredis.RedisCluster.from_url(redis_cluster_url, max_connections=2)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


async def test_200_concurrent_admissions_through_one_client_all_answered(
    tight_cluster: aioredis.RedisCluster,
) -> None:
    backend = RedisLimiterBackend(tight_cluster)
    try:
        orgs = [f"org{i}" for i in range(8)]  # spread over the three nodes
        assert len({tight_cluster.nodes_manager.get_node_from_slot(key_slot(f"{{{o}}}".encode())).name
                    for o in orgs}) > 1
        requests = [ask(org=orgs[i % len(orgs)], org_limits=LIMITS, budget=Budget(daily_usd=100.0), tokens=5,
                        reserve_usd=0.01) for i in range(200)]
        admissions = await asyncio.gather(*(backend.admit(r) for r in requests))
        assert all(a.allowed for a in admissions)
        alerts = await asyncio.gather(*(backend.settle(Settlement(r.request_id, r.org, r.subject, "m", 0.01, 5))
                                        for r in requests))
        assert alerts == [[] for _ in requests]
        spent = [(await backend.spend(org)).daily_usd for org in orgs]
        assert sum(spent) == pytest.approx(2.0, abs=1e-9)
        assert await backend.ping()
    finally:
        await backend.aclose()


async def test_a_stale_slot_map_is_refreshed_on_moved(tight_cluster: aioredis.RedisCluster) -> None:
    backend = RedisLimiterBackend(tight_cluster)
    try:
        assert (await backend.admit(ask(org="acme"))).allowed  # the slot map is loaded
        manager = tight_cluster.nodes_manager
        slot = key_slot(OrgKeys("acme").rpm.encode())
        owner = manager.slots_cache[slot][0]
        other = next(node for nodes in manager.slots_cache.values() for node in nodes if node.name != owner.name)
        manager.slots_cache[slot] = [other]  # as after a resharding this replica has not heard of: MOVED
        admissions = await asyncio.gather(*(backend.admit(ask(org="acme", org_limits=RateLimits(rpm=50)))
                                            for _ in range(60)))
        assert sum(a.allowed for a in admissions) == 50
        assert manager.slots_cache[slot][0].name == owner.name
    finally:
        await backend.aclose()


async def _node_id(client: aioredis.RedisCluster, node: ClusterNode) -> str:
    node_id = await client.execute_command("CLUSTER", "MYID", target_nodes=node)
    return node_id.decode() if isinstance(node_id, bytes) else str(node_id)


async def _keys_in_slot(client: aioredis.RedisCluster, node: ClusterNode, slot: int) -> int:
    return int(await client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot, target_nodes=node))


async def test_ask_during_a_slot_migration_is_followed(tight_cluster: aioredis.RedisCluster) -> None:
    cluster = PipelinedCluster(tight_cluster)
    backend = RedisLimiterBackend(tight_cluster)
    await tight_cluster.initialize()
    manager = tight_cluster.nodes_manager
    key = OrgKeys("acme").rpm
    slot = key_slot(key.encode())
    source = manager.slots_cache[slot][0]
    target = next(node for nodes in manager.slots_cache.values() for node in nodes if node.name != source.name)
    source_id, target_id = await _node_id(tight_cluster, source), await _node_id(tight_cluster, target)
    # The slot is half-way to `target`: the source answers ASK for keys it does not hold (here: all of them).
    await tight_cluster.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id, target_nodes=target)
    await tight_cluster.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id, target_nodes=source)
    try:
        assert await cluster.execute(key, b"SET", key, b"moved") == b"OK"
        # It was written on the importing node, after ASKING: not on the source.
        assert await _keys_in_slot(tight_cluster, source, slot) == 0
        assert await _keys_in_slot(tight_cluster, target, slot) == 1
        assert await cluster.execute(key, b"GET", key) == b"moved"
        # A multi-key script meets TRYAGAIN while the org's keys are split: it waits for the move to finish.
        await cluster.execute(key, b"DEL", key)

        async def finish_the_move() -> None:
            await asyncio.sleep(0.15)
            for node in (source, target):
                await tight_cluster.execute_command("CLUSTER", "SETSLOT", slot, "NODE", source_id, target_nodes=node)

        finishing = asyncio.create_task(finish_the_move())
        assert (await backend.admit(ask(org="acme", org_limits=RateLimits(rpm=1)))).allowed
        await finishing
        assert await _keys_in_slot(tight_cluster, source, slot) > 0  # it ran once the slot was settled
    finally:
        for node in (source, target):
            await tight_cluster.execute_command("CLUSTER", "SETSLOT", slot, "STABLE", target_nodes=node)
        await cluster.aclose()
        await backend.aclose()
