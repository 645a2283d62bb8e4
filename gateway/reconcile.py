"""OpenRouter's own bill for a stream that ended before its usage chunk, read from `GET /generation?id=`.

A client that disconnects (or an upstream that breaks) cuts a stream before the final usage chunk, so the gateway
only knows how many characters went out. OpenRouter still bills the generation (all of it, for providers that
cannot cancel), and writes the figures to `/generation` asynchronously: until then it answers 404. The
reconciler polls with a growing delay for at most `timeout_s` and gives up (the caller falls back to its
estimate) rather than hold a settlement open indefinitely. It runs only in background tasks, never on the request path.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from gateway.errors import GatewayError

log = structlog.get_logger(__name__)

GENERATION_PATH = "/generation"


class JsonSource(Protocol):
    """What the reconciler needs of `UpstreamClient`: an authenticated GET that raises on any non-200."""

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any: ...


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def generation_usage(document: object) -> dict[str, Any] | None:
    """A `/generation` answer as an OpenAI-style `usage` object (what `LedgerRecord.add_usage` reads).

    `native_tokens_*` are the provider's billed counts, the ones `usage.prompt_tokens` reports; `tokens_*` are
    OpenRouter's normalised counts and would not match the rest of the ledger. None when there is no cost figure.
    """
    data = document.get("data") if isinstance(document, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    cost = _number(data.get("total_cost"))
    if cost is None:
        return None

    def tokens(name: str) -> int:
        count = _number(data.get(name))
        return int(count) if count is not None else 0

    return {
        "prompt_tokens": tokens("native_tokens_prompt"),
        "completion_tokens": tokens("native_tokens_completion"),
        "prompt_tokens_details": {"cached_tokens": tokens("native_tokens_cached")},
        "completion_tokens_details": {"reasoning_tokens": tokens("native_tokens_reasoning")},
        "cost": cost,
    }


class GenerationReconciler:
    """Looks generations up with backoff: first at once, then after `first_delay_s`, doubling up to `max_delay_s`."""

    def __init__(
        self, source: JsonSource, *, timeout_s: float, first_delay_s: float = 0.25, max_delay_s: float = 2.0
    ) -> None:
        self._source = source
        self._timeout_s = timeout_s
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._closing = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self._timeout_s > 0 and not self._closing.is_set()

    def close(self) -> None:
        """Stop waiting (shutdown): lookups under way give up at once, so their settlements are not abandoned
        by a shutdown drain that would otherwise time out while they poll."""
        self._closing.set()

    async def lookup(self, generation_id: str) -> dict[str, Any] | None:
        """The generation's billed usage, or None if OpenRouter has not produced it within the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        delay = self._first_delay_s
        attempts = 0
        while self.enabled:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            attempts += 1
            try:
                async with asyncio.timeout(remaining):
                    document = await self._source.get_json(GENERATION_PATH, {"id": generation_id})
            except GatewayError:
                document = None  # 404 until written; 429/5xx are as transient here: try again
            except TimeoutError:
                break
            if document is not None:
                usage = generation_usage(document)
                if usage is None:
                    log.warning("generation_unreadable", generation_id=generation_id)
                return usage
            await self._pause(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, self._max_delay_s)
        log.info("generation_not_found", generation_id=generation_id, attempts=attempts, timeout_s=self._timeout_s)
        return None

    async def _pause(self, seconds: float) -> None:
        # Waiting on the closing event rather than sleeping lets `close()` cut the pause short.
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return
