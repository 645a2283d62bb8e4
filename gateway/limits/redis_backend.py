"""LimiterBackend on Redis: one Lua script per admission and one per settlement, Redis server time throughout.

The scripts go over one auto-pipelined connection (`PipelinedRedis`) when the client speaks plain TCP, or one per
node of a Redis Cluster (`PipelinedCluster`), so the hot path pays no connection-pool checkout, concurrent calls
share writes and a burst queues instead of being refused; admin commands use the redis-py client.
"""

from __future__ import annotations

from typing import cast

from gateway.limits.keys import ORGS_INDEX, OrgKeys
from gateway.limits.overrides import decode_overrides, encode_budget, encode_limits
from gateway.limits.periods import periods_at
from gateway.limits.pipelined import PipelinedRedis
from gateway.limits.pipelined_cluster import PipelinedCluster
from gateway.limits.redis_codec import alerts, int_or_none, ms_or_none, optional, optional_nano, pairs, text
from gateway.limits.scripts import ClusterScripts, PipelinedScripts, RedisPyScripts, ScriptRunner, Scripts
from gateway.limits.store_errors import STORE_DOWN, store_errors
from gateway.limits.tails import admit_tail, days, nano_fields, release_tail, settle_tail, tat_key, usd
from gateway.limits.types import (
    Admission,
    AdmissionRequest,
    Budget,
    BudgetAlert,
    KeySpend,
    RateLimits,
    RateProbe,
    RateState,
    Reason,
    Settlement,
    SpendSummary,
    TagTotals,
    from_nano,
    to_nano,
)
from gateway.redis_client import RedisClient

# How long a settled request id is remembered: a replay of the spool comes as soon as Redis answers again, and
# the default reservation TTL already bounds how long a call may stay open.
DEFAULT_IDEMPOTENCY_TTL_S = 900.0


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
            org.rps,
            sub.rps,
        ]
        ol, sl = request.org_limits, request.subject_limits
        args = [
            request.request_id,
            optional(ol.rpm),
            optional(ol.tpm),
            optional(ol.max_concurrent),
            optional(sl.rpm),
            optional(sl.tpm),
            optional(sl.max_concurrent),
            optional_nano(request.budget.daily_usd),
            optional_nano(request.budget.monthly_usd),
            str(request.tokens),
            str(to_nano(request.reserve_usd)),
            str(int(request.reservation_ttl_s * 1000)),
            optional(ol.burst),
            optional(ol.rps),
            optional(sl.burst),
            optional(sl.rps),
        ]
        key_keys, key_args = admit_tail(org, request.key)
        with store_errors():
            raw = await self._runner.run(self._scripts.admit, [*keys, *key_keys], [*args, *key_args])
        allowed, reason, retry, rl, rr, rs, tl, tr, ts = (text(v) for v in raw)
        return Admission(
            allowed=allowed == "1",
            reason=cast(Reason, reason),
            retry_after_s=float(retry) / 1000,
            requests_limit=int_or_none(rl),
            requests_remaining=int_or_none(rr),
            requests_reset_s=ms_or_none(rs),
            tokens_limit=int_or_none(tl),
            tokens_remaining=int_or_none(tr),
            tokens_reset_s=ms_or_none(ts),
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
            optional_nano(settlement.budget.daily_usd),
            optional_nano(settlement.budget.monthly_usd),
            str(self._idempotency_ttl_ms),
        ]
        tail_keys, tail_args = settle_tail(org, settlement.key_id, settlement.tags, settlement.tag_retention_s)
        with store_errors():
            raw = await self._runner.run(self._scripts.settle, [*keys, *tail_keys], [*args, *tail_args])
        return alerts(settlement.org, [text(v) for v in raw[1:]])

    async def refusal_alerts(self, org: str, budget: Budget, reserve_usd: float) -> list[BudgetAlert]:
        """The 100 % alerts a call refused for its budget makes due (exhausted.lua), once per period."""
        keys_ = OrgKeys(org)
        keys = [keys_.spend_by_day, keys_.spend_by_month, keys_.alerts, keys_.override]
        args = [optional_nano(budget.daily_usd), optional_nano(budget.monthly_usd), str(to_nano(reserve_usd))]
        with store_errors():
            raw = await self._runner.run(self._scripts.exhausted, keys, args)
        return alerts(org, [text(v) for v in raw])

    async def release(self, request_id: str, org: str, subject: str, key_id: str | None = None) -> None:
        keys_ = OrgKeys(org)
        sub = keys_.subject(subject)
        keys = [keys_.reservations, keys_.reservation_expiry, keys_.reserved, sub.inflight, keys_.tpm, sub.tpm]
        key_keys, key_args = release_tail(keys_, key_id)
        with store_errors():
            await self._runner.run(self._scripts.release, [*keys, *key_keys], [request_id, *key_args])

    async def key_spend(self, org: str, key_id: str) -> KeySpend:
        keys_ = OrgKeys(org).api_key(key_id)
        keys = [keys_.reservations, keys_.reservation_expiry, keys_.reserved, keys_.spend]
        with store_errors():
            raw = await self._runner.run(self._scripts.key_summary, keys, [])
        periods = periods_at(float(text(raw[0])) / 1000)
        fields = nano_fields(list(raw[2]))
        last_used = fields.get("last_used_ms")
        return KeySpend(
            key_id=key_id, day=periods.day, month=periods.month, daily_usd=usd(fields, f"d:{periods.day}"),
            monthly_usd=usd(fields, f"m:{periods.month}"), total_usd=usd(fields, "total"),
            reserved_usd=from_nano(int(text(raw[1]))), last_used_ms=float(last_used) if last_used else None,
            by_day=days(fields),
        )

    async def rates(self, probe: RateProbe) -> dict[str, RateState]:
        org = OrgKeys(probe.org)
        names = list(probe.limits)
        if not names:
            return {}
        keys = [tat_key(org, probe, name) for name in names]
        with store_errors():
            raw = await self._runner.run(self._scripts.peek, keys, [str(probe.limits[name]) for name in names])
        values = [text(v) for v in raw]
        return {name: RateState(probe.limits[name], int(values[2 * i]), float(values[2 * i + 1]) / 1000)
                for i, name in enumerate(names)}

    async def tag_totals(self, org: str, key: str, value: str) -> TagTotals:
        with store_errors():
            raw = await self._client.hgetall(OrgKeys(org).tag(key, value))
        fields = {text(k): text(v) for k, v in raw.items()}
        return TagTotals(key, value, usd(fields, "cost_nano"), int(fields.get("tokens", "0")),
                         int(fields.get("calls", "0")))

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
        periods = periods_at(float(text(raw[0])) / 1000)
        by_day = pairs(raw[3])
        by_month = pairs(raw[4])
        prefix = periods.month + "|"
        by_model = {k.removeprefix(prefix): from_nano(v) for k, v in pairs(raw[5]).items() if k.startswith(prefix)}
        return SpendSummary(
            org=org,
            day=periods.day,
            month=periods.month,
            daily_usd=from_nano(by_day.get(periods.day, 0)),
            monthly_usd=from_nano(by_month.get(periods.month, 0)),
            reserved_usd=from_nano(int(text(raw[1]))),
            reservations=int(text(raw[2])),
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
        return decode_overrides({text(k): text(v) for k, v in raw.items()})

    async def list_orgs(self) -> list[str]:
        with store_errors():
            members = await self._client.smembers(ORGS_INDEX)
        return sorted(text(m) for m in members)

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
