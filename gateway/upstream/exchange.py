"""Sends an admitted call to OpenRouter for any API: JSON answers or opened SSE streams, one or n copies.

Every attempt goes through the plan's resilient caller (retries, fallbacks, breaker); for a stream only the
opening step is retried, before the first byte reaches the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import httpx

from gateway.errors import GatewayError
from gateway.resilience.outcome import Outcome
from gateway.upstream.client import UpstreamClient
from gateway.upstream.plan import Payloads, Plan, open_event_stream
from gateway.upstream.reply import UpstreamReply

T = TypeVar("T")


class UpstreamExchange:
    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    def _json_attempt(
        self, path: str, payloads: Payloads, plan: Plan, read: Callable[[UpstreamReply], T]
    ) -> Callable[[str], Awaitable[T]]:
        async def attempt(model: str) -> T:
            return read(await self._client.post_json(path, payloads.for_model(model), connect_timeout_s=plan.connect_s,
                                                     headers=payloads.headers))

        return attempt

    def _stream_attempt(self, path: str, payloads: Payloads, plan: Plan) -> Callable[[str], Awaitable[httpx.Response]]:
        async def attempt(model: str) -> httpx.Response:
            return await open_event_stream(self._client, path, payloads.for_model(model), plan.idle_s,
                                           plan.connect_s, payloads.headers)

        return attempt

    async def complete(
        self, path: str, payloads: Payloads, plan: Plan, read: Callable[[UpstreamReply], T]
    ) -> Outcome[T]:
        """One JSON answer; `read` turns a response into the answer or raises the GatewayError it carries.

        A non-streaming answer arrives whole, so only the request's deadline bounds it (no first-byte limit).
        """
        return await plan.caller.call(plan.models, self._json_attempt(path, payloads, plan, read),
                                      deadline_s=plan.deadline_s, retry=plan.retry)

    async def complete_many(
        self, path: str, copies: Sequence[Payloads], plan: Plan, read: Callable[[UpstreamReply], T]
    ) -> list[Outcome[T] | GatewayError]:
        """One independent call per copy's body (OpenRouter ignores n); a failed one does not hide what the others
        cost."""
        if len(copies) == 1:  # the common case, without a coroutine of its own
            try:
                return [await plan.caller.call(plan.models, self._json_attempt(path, copies[0], plan, read),
                                               deadline_s=plan.deadline_s, retry=plan.retry)]
            except GatewayError as exc:
                return [exc]
        results = await asyncio.gather(*(self.complete(path, payloads, plan, read) for payloads in copies),
                                       return_exceptions=True)
        return [result if isinstance(result, Outcome) else _as_gateway_error(result) for result in results]

    async def open_stream(self, path: str, payloads: Payloads, plan: Plan) -> Outcome[httpx.Response]:
        """An SSE response ready to relay; only this opening step is ever retried, bounded by the first byte."""
        return await plan.caller.call(plan.models, self._stream_attempt(path, payloads, plan),
                                      deadline_s=plan.deadline_s, attempt_timeout_s=plan.first_byte_s,
                                      retry=plan.retry)

    async def open_streams(
        self, path: str, copies: Sequence[Payloads], plan: Plan
    ) -> list[Outcome[httpx.Response]]:
        """One stream per copy's body, all open, or none: a failure closes the others and raises (with every
        attempt made)."""
        if len(copies) == 1:
            return [await plan.caller.call(plan.models, self._stream_attempt(path, copies[0], plan),
                                           deadline_s=plan.deadline_s, attempt_timeout_s=plan.first_byte_s,
                                           retry=plan.retry)]
        results = await asyncio.gather(*(self.open_stream(path, payloads, plan) for payloads in copies),
                                       return_exceptions=True)
        outcomes = [r for r in results if isinstance(r, Outcome)]
        failure = next((r for r in results if not isinstance(r, Outcome)), None)
        if failure is None:
            return outcomes
        for outcome in outcomes:
            await outcome.value.aclose()
        error = _as_gateway_error(failure)
        error.attempts = tuple(a for o in outcomes for a in o.attempts) + error.attempts
        raise error


def _as_gateway_error(failure: BaseException) -> GatewayError:
    if isinstance(failure, GatewayError):
        return failure
    raise failure  # anything else is a bug (or a cancellation) and must surface as itself
