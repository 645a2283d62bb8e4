"""OpenRouter's model catalogue, cached with a TTL and refreshed by one caller at a time."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from gateway.errors import GatewayError
from gateway.upstream.client import UpstreamClient

log = structlog.get_logger(__name__)

# Ids OpenRouter resolves itself (routers, ~latest aliases): never rejected as unknown.
_PASS_THROUGH_PREFIXES = ("openrouter/", "~")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per token."""

    prompt: float
    completion: float

    @classmethod
    def per_million(cls, prompt: float | None, completion: float | None) -> ModelPrice | None:
        """From USD per million tokens, as people write prices; None when neither is given."""
        if prompt is None and completion is None:
            return None
        return cls((prompt or 0.0) / 1e6, (completion or 0.0) / 1e6)


def _per_token(value: object) -> float | None:
    """A catalogue price string as USD per token; None when missing, unparseable or negative (routers say "-1")."""
    if value is None or isinstance(value, bool):
        return None
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return price if math.isfinite(price) and price >= 0 else None


def _listed_price(model: Mapping[str, Any]) -> ModelPrice | None:
    pricing = model.get("pricing")
    if not isinstance(pricing, Mapping):
        return None
    prompt, completion = _per_token(pricing.get("prompt")), _per_token(pricing.get("completion"))
    return None if prompt is None or completion is None else ModelPrice(prompt, completion)


def dearest_price(models: Mapping[str, Mapping[str, Any]]) -> ModelPrice | None:
    """The highest prompt and the highest completion price in the catalogue (None if nothing is priced)."""
    prices = [price for price in map(_listed_price, models.values()) if price is not None]
    if not prices:
        return None
    return ModelPrice(max(p.prompt for p in prices), max(p.completion for p in prices))


@dataclass(frozen=True, slots=True)
class CatalogueSnapshot:
    models: Mapping[str, Mapping[str, Any]]
    openai_list: bytes
    fetched_at: float
    # What a model without a known price is reserved at: never zero, or a router would bypass every budget.
    ceiling: ModelPrice | None = None

    def get(self, model_id: str) -> Mapping[str, Any] | None:
        return self.models.get(model_id) or self.models.get(model_id.split(":", 1)[0])

    def knows(self, model_id: str) -> bool:
        return model_id.startswith(_PASS_THROUGH_PREFIXES) or self.get(model_id) is not None

    def price(self, model_id: str) -> ModelPrice | None:
        """The listed price; None for ids the catalogue does not price (routers, `~` aliases, missing pricing)."""
        model = self.get(model_id)
        return None if model is None else _listed_price(model)

    def max_output_tokens(self, model_id: str) -> int | None:
        model = self.get(model_id)
        top = (model or {}).get("top_provider") or {}
        value = top.get("max_completion_tokens") or (model or {}).get("context_length")
        return int(value) if value else None


def to_openai_model(model: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's model object shape, keeping OpenRouter's extra fields (pricing, context length, modalities)."""
    converted = dict(model)
    converted["object"] = "model"
    converted["created"] = _timestamp(model.get("created"))
    converted["owned_by"] = str(model.get("id", "")).split("/", 1)[0] or "openrouter"
    return converted


def _timestamp(value: object) -> int:
    """OpenAI's `created` is an integer; one odd entry upstream must not make the whole catalogue unusable."""
    try:
        return int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


class ModelCatalogue:
    """Serves the last good snapshot; refreshes after `ttl_s`, with one upstream fetch at a time.

    After a failed refresh, the stale snapshot is served for `retry_s` before the next attempt, so an OpenRouter
    outage costs one `/models` call per interval rather than one per request.
    """

    def __init__(
        self,
        upstream: UpstreamClient,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = 5.0,
        ceiling: ModelPrice | None = None,
    ) -> None:
        self._upstream = upstream
        self._ceiling = ceiling  # configured price for unpriced models; None: the dearest model in the catalogue
        self._ttl_s = ttl_s
        self._retry_s = min(retry_s, ttl_s)
        self._clock = clock
        self._snapshot: CatalogueSnapshot | None = None
        self._refreshing: asyncio.Task[CatalogueSnapshot | None] | None = None
        self._failed_at: float | None = None

    @property
    def snapshot(self) -> CatalogueSnapshot | None:
        """What is known now, without waiting (None until the first successful fetch)."""
        return self._snapshot

    async def current(self) -> CatalogueSnapshot | None:
        """A fresh-enough snapshot; a stale one is served while a single background refresh runs."""
        snapshot = self._snapshot
        if snapshot is not None and self._clock() - snapshot.fetched_at < self._ttl_s:
            return snapshot
        if snapshot is not None and self._failed_at is not None and self._clock() - self._failed_at < self._retry_s:
            return snapshot  # the last refresh failed moments ago: stale beats hammering a failing upstream
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.ensure_future(self._fetch())
        if snapshot is not None:
            return snapshot
        return await asyncio.shield(task)

    async def refresh_now(self) -> CatalogueSnapshot | None:
        """Fetch now whatever the TTL, joining a fetch already in flight (single-flight); the newest snapshot.

        Callers rate-limit it (`gateway.model_discovery.UnknownModelRefresher`): every call that finds no fetch
        running starts one.
        """
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.ensure_future(self._fetch())
        return await asyncio.shield(task)

    async def _fetch(self) -> CatalogueSnapshot | None:
        try:
            payload = await self._upstream.get_json("/models", params={"output_modalities": "all"})
        except GatewayError as exc:
            log.warning("catalogue_fetch_failed", error=exc.message)
            self._failed_at = self._clock()
            return self._snapshot
        items = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            log.warning("catalogue_fetch_failed", error="no data list in /models")
            self._failed_at = self._clock()
            return self._snapshot
        self._failed_at = None
        models = {str(item["id"]): item for item in items if isinstance(item, dict) and "id" in item}
        listing = orjson.dumps({"object": "list", "data": [to_openai_model(m) for m in models.values()]})
        self._snapshot = CatalogueSnapshot(models=models, openai_list=listing, fetched_at=self._clock(),
                                           ceiling=self._ceiling or dearest_price(models))
        return self._snapshot
