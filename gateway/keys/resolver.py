"""API key → Principal on the request path, with a short local cache so most requests skip the store.

The cache holds each answer (found or not) for `ttl_s`, one second by default: that is the bound on how long a
revoked key keeps working on a replica, and it needs no cross-replica messaging. Entries are keyed by the key's
SHA-256, so the cache never holds a usable credential.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.auth.principal import Principal
from gateway.errors import AuthenticationError
from gateway.keys.model import ApiKeyRecord, key_digest
from gateway.keys.store import ApiKeyStore

MAX_CACHED_KEYS = 10_000


class ApiKeyResolver:
    def __init__(self, store: ApiKeyStore, *, ttl_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[ApiKeyRecord | None, float]] = OrderedDict()
        self._log = structlog.get_logger()

    @property
    def store(self) -> ApiKeyStore:
        return self._store

    async def resolve(self, key: str) -> Principal:
        """The key's principal, or a 401 saying whether the key is unknown, revoked or expired (never the key)."""
        digest = key_digest(key)
        now = self._clock()
        record = await self._record(digest, now)
        if record is None:
            self._log.info("auth.rejected", reason="unknown API key")
            raise AuthenticationError("Invalid API key: no such key")
        if record.revoked:
            self._log.info("auth.rejected", reason="revoked API key", key_id=record.id, org=record.org)
            raise AuthenticationError("This API key has been revoked")
        if record.expired(datetime.fromtimestamp(now, UTC)):
            self._log.info("auth.rejected", reason="expired API key", key_id=record.id, org=record.org)
            raise AuthenticationError("This API key has expired")
        return record.principal()

    async def _record(self, digest: str, now: float) -> ApiKeyRecord | None:
        cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < self._ttl_s:
            return cached[0]
        record = await self._store.lookup(digest)
        self._cache[digest] = (record, now)
        self._cache.move_to_end(digest)
        if len(self._cache) > MAX_CACHED_KEYS:
            self._cache.popitem(last=False)
        return record
