"""Who is calling: the verified identity every later stage (policy, limits, metering) keys on."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_ROLE = "admin"
API_KEY_PREFIX = "gwk-"  # a bearer token with this prefix is one of the gateway's API keys, not a JWT


@dataclass(frozen=True, slots=True)
class ApiKeyGrant:
    """The API key a caller authenticated with: its id and name, and its own limits (None = unlimited)."""

    id: str
    name: str
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None
    prefix: str = ""  # the key's first characters, as listings show them
    expires_at: str | None = None  # ISO 8601 UTC


@dataclass(frozen=True, slots=True)
class Principal:
    org: str
    subject: str
    roles: frozenset[str]
    key: ApiKeyGrant | None = None  # set when the caller used an API key rather than a JWT
    # OAuth scopes from the token (`GATEWAY_JWT_SCOPES_CLAIM`), which the policy's `access` rules may require.
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles
