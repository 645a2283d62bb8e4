"""Where API key records live: Redis (shared by every replica and the CLI) or in process (one process only).

Layout: `gw:apikey:<sha256 of the key>` holds the record as JSON (looked up on each uncached request);
`gw:{org}:apikeys` maps each of an org's key ids to that digest, for listing and revocation by id.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import orjson

from gateway.keys.model import ApiKeyRecord, iso, utc_now
from gateway.limits.keys import PREFIX, OrgKeys
from gateway.limits.store_errors import store_errors
from gateway.redis_client import RedisClient


def record_key(digest: str) -> str:
    return f"{PREFIX}:apikey:{digest}"


def org_index(org: str) -> str:
    return OrgKeys(org).api_keys


class ApiKeyStore(Protocol):
    async def create(self, digest: str, record: ApiKeyRecord) -> None: ...

    async def lookup(self, digest: str) -> ApiKeyRecord | None:
        """The record stored under a key's digest (revoked ones too), None for an unknown key."""
        ...

    async def list(self, org: str) -> list[ApiKeyRecord]:
        """An org's keys, oldest first."""
        ...

    async def get(self, org: str, key_id: str) -> ApiKeyRecord | None: ...

    async def revoke(self, org: str, key_id: str) -> ApiKeyRecord | None:
        """Mark the key revoked (kept, so its use is refused as revoked rather than unknown); None if unknown."""
        ...


def _revoked(record: ApiKeyRecord) -> ApiKeyRecord:
    if record.revoked:
        return record
    return dataclasses.replace(record, revoked=True, revoked_at=iso(utc_now()))


def _sorted(records: list[ApiKeyRecord]) -> list[ApiKeyRecord]:
    return sorted(records, key=lambda record: (record.created_at, record.id))


class MemoryApiKeyStore:
    def __init__(self) -> None:
        self._records: dict[str, ApiKeyRecord] = {}
        self._digests: dict[tuple[str, str], str] = {}

    async def create(self, digest: str, record: ApiKeyRecord) -> None:
        self._records[digest] = record
        self._digests[(record.org, record.id)] = digest

    async def lookup(self, digest: str) -> ApiKeyRecord | None:
        return self._records.get(digest)

    async def list(self, org: str) -> list[ApiKeyRecord]:
        return _sorted([self._records[d] for (owner, _), d in self._digests.items() if owner == org])

    async def get(self, org: str, key_id: str) -> ApiKeyRecord | None:
        digest = self._digests.get((org, key_id))
        return self._records.get(digest) if digest is not None else None

    async def revoke(self, org: str, key_id: str) -> ApiKeyRecord | None:
        digest = self._digests.get((org, key_id))
        if digest is None:
            return None
        record = self._records[digest] = _revoked(self._records[digest])
        return record


class RedisApiKeyStore:
    """Raises ServiceUnavailableError (from the redis error) when Redis is unreachable."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def create(self, digest: str, record: ApiKeyRecord) -> None:
        with store_errors():
            # Record first: an index entry never points at a record that does not exist.
            await self._client.set(record_key(digest), orjson.dumps(record.to_json()), nx=True)
            await self._client.hset(org_index(record.org), record.id, digest)

    async def lookup(self, digest: str) -> ApiKeyRecord | None:
        with store_errors():
            raw = await self._client.get(record_key(digest))
        return ApiKeyRecord.from_json(orjson.loads(raw)) if raw is not None else None

    async def list(self, org: str) -> list[ApiKeyRecord]:
        with store_errors():
            digests = await self._client.hgetall(org_index(org))
        records = [await self.lookup(_text(digest)) for digest in digests.values()]
        return _sorted([record for record in records if record is not None])

    async def get(self, org: str, key_id: str) -> ApiKeyRecord | None:
        with store_errors():
            digest = await self._client.hget(org_index(org), key_id)
        return await self.lookup(_text(digest)) if digest is not None else None

    async def revoke(self, org: str, key_id: str) -> ApiKeyRecord | None:
        with store_errors():
            digest = await self._client.hget(org_index(org), key_id)
        if digest is None:
            return None
        record = await self.lookup(_text(digest))
        if record is None:
            return None
        revoked = _revoked(record)
        with store_errors():
            await self._client.set(record_key(_text(digest)), orjson.dumps(revoked.to_json()))
        return revoked


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
