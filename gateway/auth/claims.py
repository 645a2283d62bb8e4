"""Checks on a verified token's claims (time window, issuer, audience) and the Principal they describe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.auth.principal import Principal
from gateway.errors import AuthenticationError, PermissionDeniedError
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class ClaimRules:
    issuer: str | None
    audience: str | None
    leeway_s: float
    org_claim: str
    subject_claim: str
    roles_claim: str
    scopes_claim: str = "scope"

    @classmethod
    def from_settings(cls, settings: Settings) -> ClaimRules:
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.jwt_leeway_s,
            org_claim=settings.jwt_org_claim,
            subject_claim=settings.jwt_subject_claim,
            roles_claim=settings.jwt_roles_claim,
            scopes_claim=settings.jwt_scopes_claim,
        )


def check_registered_claims(claims: Mapping[str, Any], rules: ClaimRules, now: float) -> float:
    """Validate exp/nbf/iat/iss/aud; returns `exp` so the caller knows how long the token stays good."""
    exp = _number(claims, "exp")
    if exp is None:
        raise AuthenticationError("Token has no expiry ('exp' claim)")
    if now > exp + rules.leeway_s:
        raise AuthenticationError("Token expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + rules.leeway_s < nbf:
        raise AuthenticationError("Token not yet valid ('nbf' is in the future)")
    iat = _number(claims, "iat")
    if iat is not None and now + rules.leeway_s < iat:
        raise AuthenticationError("Token issued in the future ('iat')")
    if rules.issuer is not None and claims.get("iss") != rules.issuer:
        raise AuthenticationError("Token issuer not accepted")
    _check_audience(claims.get("aud"), rules.audience)
    return exp


def principal_from_claims(claims: Mapping[str, Any], rules: ClaimRules) -> Principal:
    org = claim_value(claims, rules.org_claim)
    if not isinstance(org, str) or not org:
        raise PermissionDeniedError(f"Token carries no organisation ('{rules.org_claim}' claim)")
    subject = claim_value(claims, rules.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError(f"Token carries no subject ('{rules.subject_claim}' claim)")
    return Principal(org=org, subject=subject, roles=_roles(claim_value(claims, rules.roles_claim), rules),
                     scopes=_scopes(claim_value(claims, rules.scopes_claim), rules))


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by exact name, else by dotted path (Keycloak `realm_access.roles`, Clerk v2 `o.id`).

    The exact name wins because namespaced claims such as `https://example.com/org` contain dots themselves.
    """
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _roles(value: Any, rules: ClaimRules) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())  # OAuth `scope` style: space-separated
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return frozenset(value)
    raise AuthenticationError(f"Token '{rules.roles_claim}' claim must be a list or a space-separated string")


def _scopes(value: Any, rules: ClaimRules) -> frozenset[str]:
    """OAuth 2 `scope` is one space-separated string (RFC 8693 §4.2); Azure AD's `scp` and others send a list."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(scope, str) for scope in value):
        return frozenset(value)
    raise AuthenticationError(f"Token '{rules.scopes_claim}' claim must be a space-separated string or a list")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int subclass; `"exp": true` is malformed, not the epoch second 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationError(f"Token '{name}' claim must be a number")
    return float(value)


def _check_audience(aud: Any, expected: str | None) -> None:
    if expected is None:
        # RFC 7519 §4.1.3: a token addressed to some audience is not for us unless we were told we are it.
        if aud is not None:
            raise AuthenticationError("Token audience not accepted (no audience configured)")
        return
    if aud == expected or (isinstance(aud, list) and expected in aud):
        return
    raise AuthenticationError("Token audience not accepted")
