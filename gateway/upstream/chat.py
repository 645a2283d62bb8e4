"""Chat completions upstream: every attempt goes through retries, fallbacks and the breaker, and only the step
before the first byte reaches the client is ever retried."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway.completions import Completion, read_completion
from gateway.errors import GatewayError
from gateway.policy.policy import Policy, Route
from gateway.resilience.breaker import BreakerStore, CircuitBreaker
from gateway.resilience.deadline import request_budget_s
from gateway.resilience.executor import ResilientCaller
from gateway.resilience.outcome import Outcome
from gateway.resilience.retry_budget import RetryBudget
from gateway.upstream.client import UpstreamClient
from gateway.upstream.errors import translate_error

CHAT_PATH = "/chat/completions"


@dataclass(frozen=True, slots=True)
class Plan:
    """How one call reaches upstream: the models to try in order, its time budget, and the caller to use."""

    models: tuple[str, ...]
    deadline_s: float | None
    first_byte_s: float
    idle_s: float
    caller: ResilientCaller
    connect_s: float | None = None


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
                    timeouts.connect_s)

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

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body
        self._model = body.get("model")
        self._encoded = orjson.dumps(body)

    def for_model(self, model: str) -> bytes:
        if model == self._model:
            return self._encoded
        return orjson.dumps({**self._body, "model": model})


async def open_event_stream(
    client: UpstreamClient, path: str, payload: bytes, idle_s: float, connect_s: float | None = None
) -> httpx.Response:
    """An SSE response ready to read, or the GatewayError the upstream answered with instead (before any byte)."""
    response = await client.post(path, payload, stream=True, read_timeout_s=idle_s, connect_timeout_s=connect_s)
    if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
        return response
    try:
        body = await response.aread()
    except httpx.HTTPError:
        body = b""
    finally:
        await response.aclose()
    raise translate_error(response.status_code, body, response.headers)


class ChatUpstream:
    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def _complete_once(self, payload: bytes, connect_s: float | None) -> Completion:
        return read_completion(await self._client.post(CHAT_PATH, payload, stream=False, connect_timeout_s=connect_s))

    async def complete(self, payloads: Payloads, plan: Plan) -> Outcome[Completion]:
        async def attempt(model: str) -> Completion:
            return await self._complete_once(payloads.for_model(model), plan.connect_s)

        # A non-streaming answer arrives whole, so only the request's deadline bounds it (no first-byte limit).
        return await plan.caller.call(plan.models, attempt, deadline_s=plan.deadline_s)

    async def complete_many(self, payloads: Payloads, plan: Plan, n: int) -> list[Outcome[Completion] | GatewayError]:
        """n independent calls (OpenRouter ignores n); a failed one does not hide what the others cost."""
        results = await asyncio.gather(*(self.complete(payloads, plan) for _ in range(n)), return_exceptions=True)
        return [_as_outcome_or_error(result) for result in results]

    async def _open_once(self, payload: bytes, plan: Plan) -> httpx.Response:
        return await open_event_stream(self._client, CHAT_PATH, payload, plan.idle_s, plan.connect_s)

    async def open_stream(self, payloads: Payloads, plan: Plan) -> Outcome[httpx.Response]:
        async def attempt(model: str) -> httpx.Response:
            return await self._open_once(payloads.for_model(model), plan)

        return await plan.caller.call(
            plan.models, attempt, deadline_s=plan.deadline_s, attempt_timeout_s=plan.first_byte_s
        )

    async def open_streams(self, payloads: Payloads, plan: Plan, n: int) -> list[Outcome[httpx.Response]]:
        results = await asyncio.gather(*(self.open_stream(payloads, plan) for _ in range(n)), return_exceptions=True)
        outcomes = [r for r in results if isinstance(r, Outcome)]
        failure = next((r for r in results if not isinstance(r, Outcome)), None)
        if failure is None:
            return outcomes
        for outcome in outcomes:
            await outcome.value.aclose()
        raise _as_gateway_error(failure)


def _as_gateway_error(failure: BaseException) -> GatewayError:
    if isinstance(failure, GatewayError):
        return failure
    raise failure  # anything else is a bug (or a cancellation) and must surface as itself


def _as_outcome_or_error(result: Outcome[Completion] | BaseException) -> Outcome[Completion] | GatewayError:
    return result if isinstance(result, Outcome) else _as_gateway_error(result)
