"""The breaker store shared by replicas: one Lua script (one round trip) per check and per record.

Each model's circuit is one hash, `gw:breaker:{model}`; the braces make it a Redis Cluster hash tag, so the
key's slot depends on the model alone. Times come from Redis `TIME`, never from a replica's clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources

from redis import exceptions as redis_errors

from gateway.policy.schema import BreakerPolicy
from gateway.redis_client import RedisClient
from gateway.resilience.breaker import CLOSED, HALF_OPEN, OPEN, BreakerStoreError

KEY_PREFIX = "gw:breaker:"


def circuit_key(model: str) -> str:
    return f"{KEY_PREFIX}{{{model}}}"


def _script(name: str) -> str:
    """A script with the shared prelude prepended (Redis Lua has no `require`)."""
    package = resources.files("gateway.resilience")
    return package.joinpath("breaker_common.lua").read_text() + "\n" + package.joinpath(name).read_text()


@contextmanager
def _store_errors() -> Iterator[None]:
    # Every RedisError, not only connection ones: a breaker that cannot be consulted must not fail the request.
    try:
        yield
    except (redis_errors.RedisError, OSError) as exc:
        raise BreakerStoreError(f"circuit breaker store failed: {exc}") from exc


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBreakerStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._check = redis.register_script(_script("breaker_check.lua"))
        self._record = redis.register_script(_script("breaker_record.lua"))

    async def check(self, model: str, policy: BreakerPolicy) -> float | None:
        wait, _ = await self.check_closed(model, policy)
        return wait

    async def check_closed(self, model: str, policy: BreakerPolicy) -> tuple[float | None, bool]:
        """Like `check`, and whether the circuit was plainly closed (not a half-open probe grant)."""
        with _store_errors():
            reply = await self._check(
                keys=[circuit_key(model)], args=[policy.cooldown_s, policy.half_open_probes, policy.window_s]
            )
        if reply is None:
            return None, True
        text = _text(reply)
        return (None, False) if text == "probe" else (float(text), False)

    async def record(self, model: str, ok: bool, policy: BreakerPolicy, *, rate_limited: bool = False) -> None:
        await self.record_counts(model, successes=1 if ok else 0, failures=0 if ok else 1, policy=policy,
                                 rate_limited=int(rate_limited and not ok))

    async def record_counts(
        self, model: str, *, successes: int, failures: int, policy: BreakerPolicy, rate_limited: int = 0
    ) -> str:
        """Count several outcomes in one round trip; returns the circuit's state afterwards.

        `rate_limited` is how many of the `failures` were upstream 429s (see `open_cause`)."""
        args = [successes, failures, policy.window_s, policy.min_requests, policy.failure_rate, policy.cooldown_s,
                rate_limited]
        with _store_errors():
            state = await self._record(keys=[circuit_key(model)], args=args)
        return _text(state)

    async def open_cause(self, model: str) -> str | None:
        """`rate_limit` when the circuit opened because most failures were upstream 429s, else None."""
        with _store_errors():
            cause = await self._redis.hget(circuit_key(model), "cause")
        return None if cause is None else _text(cause)

    async def states(self, models: Sequence[str]) -> dict[str, str]:
        """One pipelined round trip (split per node by a cluster client): server time and every `open_until`."""
        if not models:
            return {}
        with _store_errors():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.time()
                for model in models:
                    pipe.hget(circuit_key(model), "open_until")
                replies = await pipe.execute()
        seconds, micros = replies[0]
        now = float(seconds) + float(micros) / 1_000_000
        return {model: _state(value, now) for model, value in zip(models, replies[1:], strict=True)}


def _state(open_until: object, now: float) -> str:
    if open_until is None:
        return CLOSED
    return OPEN if now < float(_text(open_until)) else HALF_OPEN
