"""Shared state: Redis when configured (multi-replica safe), else the in-process store with the same semantics."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.limits.backend import LimiterBackend
from gateway.limits.memory_backend import MemoryLimiterBackend
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.limits.resilient import ResilientLimiter
from gateway.limits.spool import SettlementSpool
from gateway.limits.types import BudgetAlert
from gateway.redis_client import RedisClient, open_redis
from gateway.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class SharedState:
    backend: LimiterBackend
    redis: RedisClient | None
    resilient: ResilientLimiter | None
    owns_redis: bool
    shared: RedisLimiterBackend | None = None  # owns a pipelined connection of its own, whoever owns `redis`

    @property
    def kind(self) -> str:
        return "redis" if self.redis is not None else "memory"

    async def health(self) -> dict[str, str]:
        if self.resilient is None:
            return {"store": "memory"}
        ok = await self.resilient.ping()
        return {"store": "ok" if ok else "down", "store_fail_mode": self.resilient.fail_mode}

    async def replay_spool(self) -> list[BudgetAlert]:
        if self.resilient is None or not self.resilient.spool_pending:
            return []
        report = await self.resilient.replay_spool()
        if report.replayed:
            log.info("spool_replayed", settlements=report.replayed, skipped=report.skipped)
        return report.alerts

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()
        if self.redis is not None and self.owns_redis:
            with contextlib.suppress(Exception):
                await self.redis.aclose()


def open_shared_state(settings: Settings, redis: RedisClient | None = None) -> SharedState:
    if redis is None and not settings.redis_url:
        return SharedState(MemoryLimiterBackend(), None, None, owns_redis=False)
    owns = redis is None
    client = redis if redis is not None else open_redis(
        str(settings.redis_url), cluster=settings.redis_cluster, max_connections=settings.redis_max_connections
    )
    # One spool file per process: workers never append to or claim each other's file.
    spool = SettlementSpool(Path(settings.spool_dir) / f"settlements-{os.getpid()}.jsonl")
    shared = RedisLimiterBackend(client, idempotency_ttl_s=settings.settlement_idempotency_s)
    resilient = ResilientLimiter(shared, MemoryLimiterBackend(), spool, fail_mode=settings.store_fail_mode)
    return SharedState(resilient, client, resilient, owns_redis=owns, shared=shared)
