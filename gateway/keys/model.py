"""What an API key is: an opaque high-entropy secret shown once, and the record stored under its SHA-256.

A plain SHA-256 (no salt, no slow hash) is enough: the secret has 256 bits of randomness, so there is nothing a
dictionary or a GPU could guess, and a fast hash keeps the lookup on the request path cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.auth.principal import API_KEY_PREFIX, ApiKeyGrant, Principal

_SECRET_BYTES = 32
# Shown in listings so people can tell keys apart; 8 characters of the secret reveal 48 of its 256 bits.
_VISIBLE_CHARS = len(API_KEY_PREFIX) + 8


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ApiKeyRecord:
    """Everything stored about a key: never the key itself."""

    id: str
    prefix: str
    name: str
    org: str
    subject: str
    roles: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None
    expires_at: str | None = None  # ISO 8601 UTC
    created_at: str = field(default_factory=lambda: iso(utc_now()))
    revoked: bool = False
    revoked_at: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= now

    def principal(self) -> Principal:
        grant = ApiKeyGrant(self.id, self.name, self.rpm, self.tpm, self.daily_usd, self.monthly_usd, self.prefix,
                            self.expires_at)
        return Principal(self.org, self.subject, frozenset(self.roles), grant)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["roles"] = list(self.roles)
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ApiKeyRecord:
        return cls(**{**document, "roles": tuple(document.get("roles") or ())})


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: the secret (shown exactly once) and its record."""

    key: str
    record: ApiKeyRecord


def generate_key(
    *,
    org: str,
    name: str,
    subject: str | None = None,
    roles: tuple[str, ...] = (),
    rpm: int | None = None,
    tpm: int | None = None,
    daily_usd: float | None = None,
    monthly_usd: float | None = None,
    expires_at: datetime | None = None,
) -> NewApiKey:
    key = API_KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    key_id = "key_" + secrets.token_hex(8)
    record = ApiKeyRecord(
        id=key_id, prefix=key[:_VISIBLE_CHARS], name=name or key_id, org=org,
        # Without a subject of its own, the key is its own user: per-subject limits then apply per key.
        subject=subject or f"apikey:{key_id}", roles=roles, rpm=rpm, tpm=tpm, daily_usd=daily_usd,
        monthly_usd=monthly_usd, expires_at=iso(expires_at) if expires_at is not None else None,
    )
    return NewApiKey(key, record)
