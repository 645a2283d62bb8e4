"""Bounded LRU of already-verified tokens, so a client's repeat requests skip signature verification.

Entries are keyed by the token's SHA-256 digest: the cache never holds a usable credential, so a heap dump
or a debugger session does not leak bearer tokens.
"""

from __future__ import annotations

from collections import OrderedDict

from gateway.auth.principal import Principal


class VerifiedTokenCache:
    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, expires_at = entry
        if now >= expires_at:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return principal

    def put(self, digest: bytes, principal: Principal, expires_at: float) -> None:
        if self._max_entries <= 0:
            return
        self._entries[digest] = (principal, expires_at)
        self._entries.move_to_end(digest)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
