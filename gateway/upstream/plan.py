"""How one call reaches upstream: the models to try, its deadlines and the resilient caller (`Plan`), the body
encoded once per model (`Payloads`), and the SSE opening step that is the only part of a stream ever retried."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway.policy.policy import Policy, Route
from gateway.policy.schema import RetryPolicy
from gateway.resilience.breaker import BreakerStore, CircuitBreaker
from gateway.resilience.deadline import request_budget_s
from gateway.resilience.executor import ResilientCaller
from gateway.resilience.retry_budget import RetryBudget
from gateway.upstream.client import UpstreamClient
from gateway.upstream.errors import translate_error


@dataclass(frozen=True, slots=True)
class Plan:
    """How one call reaches upstream: the models to try in order, its time budget, and the caller to use."""

    models: tuple[str, ...]
    deadline_s: float | None
    first_byte_s: float
    idle_s: float
    caller: ResilientCaller
    connect_s: float | None = None
    retry: RetryPolicy | None = None  # the task's own retry settings; None: the policy's


class Resilience:
    """One breaker and one retry budget per process, re-tuned when the policy is reloaded."""

    def __init__(self, breaker_store: BreakerStore) -> None:
        self._store = breaker_store
        self._policy: Policy | None = None
        self._caller: ResilientCaller | None = None
        self.breaker: CircuitBreaker | None = None

    def plan(self, policy: Policy, route: Route) -> Plan:
        caller = self._caller_for(policy)
        document = policy.document
        models = route.models if document.upstream_fallbacks == "gateway" else route.models[:1]
        timeouts = document.timeouts
        return Plan(models, request_budget_s(route, timeouts), timeouts.first_byte_s, timeouts.idle_s, caller,
                    timeouts.connect_s, route.retry)

    def _caller_for(self, policy: Policy) -> ResilientCaller:
        if self._caller is not None and policy is self._policy:
            return self._caller
        document = policy.document
        if self.breaker is None:
            self.breaker = CircuitBreaker(self._store, document.circuit_breaker)
        self.breaker.policy = document.circuit_breaker
        budget = self._caller.budget if self._caller is not None else None
        if budget is None or self._policy is None or self._policy.document.retry != document.retry:
            budget = RetryBudget.from_policy(document.retry)
        self._caller = ResilientCaller(document.retry, self.breaker, budget)
        self._policy = policy
        return self._caller


class Payloads:
    """The request body as bytes for each model tried; the routed model's bytes are encoded once."""

    def __init__(self, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.headers = headers  # upstream headers of this request only (the app's own attribution), else None
        self._body = body
        self._model = body.get("model")
        self._encoded = orjson.dumps(body)

    def copies(self, count: int) -> list[Payloads]:
        """The bodies of `count` fanned-out copies: with a `seed`, copy i is sent with `seed + i`, so seeded
        self-consistency samples differ; without one every copy is this same body."""
        seed = self._body.get("seed")
        if count == 1 or not isinstance(seed, int) or isinstance(seed, bool):
            return [self] * count
        return [self] + [Payloads({**self._body, "seed": seed + index}, self.headers) for index in range(1, count)]

    def for_model(self, model: str) -> bytes:
        if model == self._model:
            return self._encoded
        return orjson.dumps({**self._body, "model": model})


async def open_event_stream(
    client: UpstreamClient, path: str, payload: bytes, idle_s: float, connect_s: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """An SSE response ready to read, or the GatewayError the upstream answered with instead (before any byte)."""
    response = await client.post(path, payload, stream=True, read_timeout_s=idle_s, connect_timeout_s=connect_s,
                                 headers=headers)
    if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
        return response
    try:
        body = await response.aread()
    except httpx.HTTPError:
        body = b""
    finally:
        await response.aclose()
    raise translate_error(response.status_code, body, response.headers)
