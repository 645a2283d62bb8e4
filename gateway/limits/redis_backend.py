"""LimiterBackend on Redis: one Lua script per admission and one per settlement, Redis server time throughout.

The scripts go over one auto-pipelined connection (`PipelinedRedis`) when the client speaks plain TCP, or one per
node of a Redis Cluster (`PipelinedCluster`), so the hot path pays no connection-pool checkout, concurrent calls
share writes and a burst queues instead of being refused; admin commands use the redis-py client.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from redis import exceptions as redis_errors

from gateway.errors import ServiceUnavailableError
from gateway.limits.keys import ORGS_INDEX, OrgKeys
from gateway.limits.overrides import decode_overrides, encode_budget, encode_limits
from gateway.limits.periods import periods_at
from gateway.limits.pipelined import PipelinedRedis
from gateway.limits.pipelined_cluster import PipelinedCluster
from gateway.limits.scripts import ClusterScripts, PipelinedScripts, RedisPyScripts, ScriptRunner, Scripts
from gateway.limits.types import (
    Admission,
    AdmissionRequest,
    Budget,
    BudgetAlert,
    Period,
    RateLimits,
    Reason,
    Settlement,
    SpendSummary,
    from_nano,
    to_nano,
)
from gateway.redis_client import RedisClient

# Errors that mean "the store is unreachable", as opposed to a bug in a command or script.
STORE_DOWN: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
)
# How long a settled request id is remembered: a replay of the spool comes as soon as Redis answers again, and
# the default reservation TTL already bounds how long a call may stay open.
DEFAULT_IDEMPOTENCY_TTL_S = 900.0


class StoreBusyError(ServiceUnavailableError):
    """The client's connection pool is exhausted: a 503 for this request, but not evidence that Redis is down.

    Give the client a `BlockingConnectionPool` so bursts wait for a connection instead of failing.
    """


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate an unreachable Redis into the gateway's 503 at this boundary."""
    try:
        yield
    except (redis_errors.MaxConnectionsError, redis_errors.TryAgainError) as exc:  # a full pool, a slot moving
        raise StoreBusyError("rate limit store busy") from exc
    except STORE_DOWN as exc:
        raise ServiceUnavailableError("rate limit store unavailable") from exc


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt(value: float | int | None) -> str:
    return "" if value is None else str(value)


def _opt_nano(usd: float | None) -> str:
    return "" if usd is None else str(to_nano(usd))


def _int_or_none(value: str) -> int | None:
    return None if value == "" else int(value)


def _ms_or_none(value: str) -> float | None:
    return None if value == "" else float(value) / 1000


def _pairs(flat: Sequence[object]) -> dict[str, int]:
    items = [_text(v) for v in flat]
    return {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}


class RedisLimiterBackend:
    """Shared limits across replicas. Raises ServiceUnavailableError (from the redis error) when Redis is down.

    `idempotency_ttl_s` is how long a settled request id is remembered (in one zset per org, so Redis holds
    settlements of that window, not one key per call); spooled settlements must be replayed within it.
    """

    def __init__(self, client: RedisClient, *, idempotency_ttl_s: float = DEFAULT_IDEMPOTENCY_TTL_S) -> None:
        self._client = client
        self._scripts = Scripts.load()
        self._pipelined = PipelinedRedis.mirroring(client)
        self._cluster = None if self._pipelined is not None else PipelinedCluster.mirroring(client)
        self._runner: ScriptRunner
        if self._pipelined is not None:
            self._runner = PipelinedScripts(self._pipelined)
        elif self._cluster is not None:
            self._runner = ClusterScripts(self._cluster)
        else:
            self._runner = RedisPyScripts(client)
        self._idempotency_ttl_ms = int(idempotency_ttl_s * 1000)

    async def admit(self, request: AdmissionRequest) -> Admission:
        org = OrgKeys(request.org)
        sub = org.subject(request.subject)
        keys = [
            org.rpm,
            org.tpm,
            sub.rpm,
            sub.tpm,
            org.reservations,
            org.reservation_expiry,
            org.reserved,
            sub.inflight,
            org.spend_by_day,
            org.spend_by_month,
            org.override,
        ]
        ol, sl = request.org_limits, request.subject_limits
        args = [
            request.request_id,
            _opt(ol.rpm),
            _opt(ol.tpm),
            _opt(ol.max_concurrent),
            _opt(sl.rpm),
            _opt(sl.tpm),
            _opt(sl.max_concurrent),
            _opt_nano(request.budget.daily_usd),
            _opt_nano(request.budget.monthly_usd),
            str(request.tokens),
            str(to_nano(request.reserve_usd)),
            str(int(request.reservation_ttl_s * 1000)),
        ]
        with store_errors():
            raw = await self._runner.run(self._scripts.admit, keys, args)
        allowed, reason, retry, rl, rr, rs, tl, tr, ts = (_text(v) for v in raw)
        return Admission(
            allowed=allowed == "1",
            reason=cast(Reason, reason),
            retry_after_s=float(retry) / 1000,
            requests_limit=_int_or_none(rl),
            requests_remaining=_int_or_none(rr),
            requests_reset_s=_ms_or_none(rs),
            tokens_limit=_int_or_none(tl),
            tokens_remaining=_int_or_none(tr),
            tokens_reset_s=_ms_or_none(ts),
        )

    async def settle(self, settlement: Settlement) -> list[BudgetAlert]:
        org = OrgKeys(settlement.org)
        sub = org.subject(settlement.subject)
        keys = [
            org.settled,
            org.reservations,
            org.reservation_expiry,
            org.reserved,
            sub.inflight,
            org.tpm,
            sub.tpm,
            org.spend_by_day,
            org.spend_by_month,
            org.spend_by_model,
            org.alerts,
            org.override,
        ]
        args = [
            settlement.request_id,
            settlement.model,
            str(to_nano(settlement.cost_usd)),
            str(settlement.tokens),
            _opt_nano(settlement.budget.daily_usd),
            _opt_nano(settlement.budget.monthly_usd),
            str(self._idempotency_ttl_ms),
        ]
        with store_errors():
            raw = await self._runner.run(self._scripts.settle, keys, args)
        fields = [_text(v) for v in raw[1:]]
        return [
            BudgetAlert(
                org=settlement.org,
                period=cast(Period, fields[i]),
                period_key=fields[i + 1],
                threshold=int(fields[i + 2]),
                spent_usd=from_nano(int(fields[i + 3])),
                budget_usd=from_nano(int(fields[i + 4])),
            )
            for i in range(0, len(fields), 5)
        ]

    async def release(self, request_id: str, org: str, subject: str) -> None:
        keys_ = OrgKeys(org)
        sub = keys_.subject(subject)
        keys = [keys_.reservations, keys_.reservation_expiry, keys_.reserved, sub.inflight, keys_.tpm, sub.tpm]
        with store_errors():
            await self._runner.run(self._scripts.release, keys, [request_id])

    async def spend(self, org: str) -> SpendSummary:
        keys_ = OrgKeys(org)
        keys = [
            keys_.reservations,
            keys_.reservation_expiry,
            keys_.reserved,
            keys_.spend_by_day,
            keys_.spend_by_month,
            keys_.spend_by_model,
        ]
        with store_errors():
            raw = await self._runner.run(self._scripts.summary, keys, [])
        periods = periods_at(float(_text(raw[0])) / 1000)
        by_day = _pairs(raw[3])
        by_month = _pairs(raw[4])
        prefix = periods.month + "|"
        by_model = {k.removeprefix(prefix): from_nano(v) for k, v in _pairs(raw[5]).items() if k.startswith(prefix)}
        return SpendSummary(
            org=org,
            day=periods.day,
            month=periods.month,
            daily_usd=from_nano(by_day.get(periods.day, 0)),
            monthly_usd=from_nano(by_month.get(periods.month, 0)),
            reserved_usd=from_nano(int(_text(raw[1]))),
            reservations=int(_text(raw[2])),
            by_model=by_model,
            by_day={day: from_nano(v) for day, v in sorted(by_day.items())},
        )

    async def set_overrides(self, org: str, limits: RateLimits | None, budget: Budget | None) -> None:
        key = OrgKeys(org).override
        with store_errors():
            # One MULTI so readers never see a half-replaced override; the index lives in another slot.
            async with self._client.pipeline(transaction=True) as pipe:
                if limits is not None:
                    pipe.hdel(key, "rpm", "tpm", "max_concurrent")
                    if fields := encode_limits(limits):
                        pipe.hset(key, mapping=fields)
                if budget is not None:
                    pipe.hdel(key, "daily_nano", "monthly_nano")
                    if fields := encode_budget(budget):
                        pipe.hset(key, mapping=fields)
                pipe.exists(key)
                *_, exists = await pipe.execute()
            if exists:
                await self._client.sadd(ORGS_INDEX, org)
            else:
                await self._client.srem(ORGS_INDEX, org)

    async def get_overrides(self, org: str) -> tuple[RateLimits | None, Budget | None]:
        with store_errors():
            raw = await self._client.hgetall(OrgKeys(org).override)
        return decode_overrides({_text(k): _text(v) for k, v in raw.items()})

    async def list_orgs(self) -> list[str]:
        with store_errors():
            members = await self._client.smembers(ORGS_INDEX)
        return sorted(_text(m) for m in members)

    async def reset(self, org: str) -> None:
        with store_errors():
            await self._client.delete(OrgKeys(org).override)
            await self._client.srem(ORGS_INDEX, org)

    @property
    def pipelined(self) -> PipelinedRedis | None:
        """The hot path's connection, for other per-call writes (the ledger) to share."""
        return self._pipelined

    async def aclose(self) -> None:
        """Close the pipelined connection; the redis-py client belongs to whoever made it."""
        if self._pipelined is not None:
            await self._pipelined.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()

    async def ping(self) -> bool:
        """Asks over the connection admissions use, so readiness reflects the path requests take."""
        try:
            if self._pipelined is not None:
                return bool(await self._pipelined.execute(b"PING"))
            if self._cluster is not None:
                return await self._cluster.ping()
            return bool(await self._client.ping())
        except STORE_DOWN:
            return False
