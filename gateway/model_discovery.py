"""A model id OpenRouter added a minute ago must not be a 404 until the catalogue's TTL (300 s) runs out.

When the current snapshot does not know an id, the catalogue is refetched once (joining any fetch in flight)
before the id is declared unknown. Unknown ids are attacker-controlled, so they may trigger at most one refetch
per `min_interval_s` across all callers: a flood of junk ids costs one `/models` call per interval, not one each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway.catalogue import CatalogueSnapshot, ModelCatalogue


class UnknownModelRefresher:
    def __init__(
        self, catalogue: ModelCatalogue, *, min_interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._catalogue = catalogue
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_started: float | None = None
        self._inflight: asyncio.Task[CatalogueSnapshot | None] | None = None

    async def lookup(self, model_id: str) -> CatalogueSnapshot | None:
        """The newest snapshot, refetched first when the current one does not know `model_id` (and the last
        refetch for an unknown id is at least `min_interval_s` old). The caller checks `knows` on the answer:
        still unknown means 404. None only while no catalogue was ever fetched (the caller lets it pass, as now).
        """
        snapshot = await self._catalogue.current()
        if snapshot is not None and snapshot.knows(model_id):
            return snapshot
        task = self._inflight
        now = self._clock()
        if task is None or task.done():
            if self._last_started is not None and now - self._last_started < self._min_interval_s:
                return snapshot
            self._last_started = now
            task = self._inflight = asyncio.ensure_future(self._catalogue.refresh_now())
        # Callers asking while the refetch runs wait for it (single-flight) rather than get the stale answer.
        return await asyncio.shield(task)
