"""What the key commands and `/admin/orgs/{org}/keys` do, as views both print or send (same JSON keys)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.keys.model import ApiKeyRecord, NewApiKey, generate_key, iso, key_digest
from gateway.keys.store import ApiKeyStore
from gateway.limits.backend import LimiterBackend
from gateway.limits.types import KeySpend

View = dict[str, Any]


@dataclass(frozen=True)
class KeyRequest:
    """What a new key should be; validated by whichever front end built it."""

    org: str
    name: str = ""
    subject: str | None = None
    roles: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None
    expires_at: datetime | None = None


def key_view(record: ApiKeyRecord, spend: KeySpend | None) -> View:
    last_used = spend.last_used_ms if spend is not None else None
    return {
        "id": record.id, "prefix": record.prefix, "name": record.name, "org": record.org,
        "subject": record.subject, "roles": list(record.roles), "rpm": record.rpm, "tpm": record.tpm,
        "daily_usd": record.daily_usd, "monthly_usd": record.monthly_usd, "expires_at": record.expires_at,
        "created_at": record.created_at,
        "last_used_at": iso(datetime.fromtimestamp(last_used / 1000, UTC)) if last_used is not None else None,
        "revoked": record.revoked, "revoked_at": record.revoked_at,
        "spent_usd": spend.total_usd if spend is not None else 0.0,
        "spent_today_usd": spend.daily_usd if spend is not None else 0.0,
        "spent_month_usd": spend.monthly_usd if spend is not None else 0.0,
        "reserved_usd": spend.reserved_usd if spend is not None else 0.0,
    }


class KeyService:
    def __init__(self, store: ApiKeyStore, limiter: LimiterBackend) -> None:
        self._store = store
        self._limiter = limiter

    async def create(self, request: KeyRequest) -> View:
        """The new key's view with the secret under `key`: the only time it is ever shown."""
        new: NewApiKey = generate_key(
            org=request.org, name=request.name, subject=request.subject, roles=request.roles, rpm=request.rpm,
            tpm=request.tpm, daily_usd=request.daily_usd, monthly_usd=request.monthly_usd,
            expires_at=request.expires_at,
        )
        await self._store.create(key_digest(new.key), new.record)
        return {"key": new.key, **key_view(new.record, None)}

    async def list(self, org: str) -> View:
        records = await self._store.list(org)
        return {"data": [key_view(record, await self._limiter.key_spend(org, record.id)) for record in records]}

    async def show(self, org: str, key_id: str) -> View | None:
        record = await self._store.get(org, key_id)
        if record is None:
            return None
        return key_view(record, await self._limiter.key_spend(org, key_id))

    async def revoke(self, org: str, key_id: str) -> View | None:
        record = await self._store.revoke(org, key_id)
        if record is None:
            return None
        return {"id": record.id, "revoked": True, "revoked_at": record.revoked_at}
