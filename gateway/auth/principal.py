"""Who is calling: the verified identity every later stage (policy, limits, metering) keys on."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    org: str
    subject: str
    roles: frozenset[str]
    # OAuth scopes from the token (`GATEWAY_JWT_SCOPES_CLAIM`), which the policy's `access` rules may require.
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles
