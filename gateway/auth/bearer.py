"""Pull the credential out of an `Authorization` header value."""

from __future__ import annotations

from gateway.errors import AuthenticationError

# Real JWTs are a few KiB at most; refusing larger ones caps the hashing and parsing an anonymous caller buys.
MAX_TOKEN_CHARS = 16 * 1024


def bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise AuthenticationError("Missing bearer token")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationError("Authorization scheme must be Bearer")
    token = credentials.strip()
    if not token:
        raise AuthenticationError("Missing bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError("Bearer token too large")
    return token
