"""Mint HS256 tokens for development and tests (`gateway token mint`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt


def mint_token(
    secret: str,
    *,
    org: str,
    subject: str = "dev",
    roles: Sequence[str] = (),
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
    org_claim: str = "org_id",
    subject_claim: str = "sub",
    roles_claim: str = "roles",
    scopes: Sequence[str] | None = None,
    scopes_claim: str = "scope",
) -> str:
    if not secret:
        raise ValueError("a non-empty secret is required to mint a token")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    now = int(time.time())
    claims: dict[str, Any] = {
        subject_claim: subject,
        org_claim: org,
        roles_claim: list(roles),
        "iat": now,
        "exp": now + ttl_s,
    }
    if scopes is not None:
        claims[scopes_claim] = " ".join(scopes)  # OAuth's space-separated form
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
