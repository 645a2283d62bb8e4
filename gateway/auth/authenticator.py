"""The auth stage: `Authorization` header in, verified Principal out (401/403 otherwise).

A bearer credential starting `gwk-` is an API key (see `gateway.keys`); anything else is a JWT.

Order of checks, cheapest first: header shape, verified-token cache, algorithm allow-list (before any key is
touched), signature with a key of the algorithm's own family, then claims.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import orjson
import structlog

from gateway.auth.algorithms import HMAC_ALGORITHMS, pin_algorithms
from gateway.auth.bearer import bearer_token
from gateway.auth.claims import ClaimRules, check_registered_claims, principal_from_claims
from gateway.auth.jwks import JwksCache
from gateway.auth.keys import PublicKey, VerificationKey, load_pem_keys
from gateway.auth.principal import API_KEY_PREFIX, Principal
from gateway.auth.token_cache import VerifiedTokenCache
from gateway.errors import AuthenticationError, GatewayError, PermissionDeniedError
from gateway.settings import Settings

if TYPE_CHECKING:  # a type only: gateway.keys builds on gateway.auth, not the other way round
    from gateway.keys.resolver import ApiKeyResolver

# Attacker-supplied header values are clipped before they reach a log line.
_LOGGED_HEADER_CHARS = 64


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        api_keys: ApiKeyResolver | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._algorithms = pin_algorithms(settings.jwt_algorithms)
        self._rules = ClaimRules.from_settings(settings)
        self._clock = clock
        self._log = structlog.get_logger()
        self._jws = jwt.PyJWS(algorithms=sorted(self._algorithms))
        self._cache = VerifiedTokenCache(settings.jwt_cache_size)
        self._cache_max_age_s = settings.jwt_cache_max_age_s
        secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else b""
        static_keys = load_pem_keys(settings.jwt_public_key_file) if settings.jwt_public_key_file else ()
        self._local_keys = _local_keys_by_algorithm(self._algorithms, secret, static_keys)
        self._owns_http = http is None and settings.jwks_url is not None
        self._http = httpx.AsyncClient() if self._owns_http else http
        self._jwks: JwksCache | None = None
        if settings.jwks_url is not None and self._http is not None:
            self._jwks = JwksCache(
                settings.jwks_url,
                self._http,
                ttl_s=settings.jwks_cache_ttl_s,
                min_refresh_interval_s=settings.jwks_min_refresh_interval_s,
                fetch_timeout_s=settings.jwks_fetch_timeout_s,
                clock=clock,
            )
        unserved = sorted(alg for alg in self._algorithms if not self._local_keys[alg] and not self._remote(alg))
        if unserved:
            self._log.warning("auth.algorithms_without_keys", algorithms=unserved)

    async def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        if self._api_keys is not None and token.startswith(API_KEY_PREFIX):
            return await self._api_keys.resolve(token)  # a `gwk-` key is never a JWT: no JWT parsing is tried
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(digest, self._clock())
        if cached is not None:
            return cached
        header = self._header(token)
        try:
            principal, exp = await self._verify(token, header)
        except GatewayError as exc:
            self._log.info(
                "auth.rejected",
                reason=exc.message,
                alg=str(header.get("alg"))[:_LOGGED_HEADER_CHARS],
                kid=str(header.get("kid"))[:_LOGGED_HEADER_CHARS],
            )
            raise
        now = self._clock()
        self._cache.put(digest, principal, min(exp, now + self._cache_max_age_s))
        return principal

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    def _header(self, token: str) -> dict[str, Any]:
        try:
            return self._jws.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError):
            self._log.info("auth.rejected", reason="malformed token")
            raise AuthenticationError("Bearer token is not a well-formed JWT") from None

    async def _verify(self, token: str, header: dict[str, Any]) -> tuple[Principal, float]:
        alg = header.get("alg")
        # Exact, case-sensitive match against the pinned list: `none`, `None`, `NONE` and anything else
        # unlisted stop here, before any key is chosen.
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthenticationError("Token algorithm not allowed")
        claims = _decode_claims(await self._verified_payload(token, alg, header.get("kid")))
        exp = check_registered_claims(claims, self._rules, self._clock())
        return principal_from_claims(claims, self._rules), exp

    async def _verified_payload(self, token: str, alg: str, kid: str | None) -> bytes:
        tried = False
        for key in self._local_keys[alg]:
            tried = True
            payload = self._payload_if_signed_by(token, key, alg)
            if payload is not None:
                return payload
        if self._jwks is not None and self._remote(alg):
            for candidate in await self._jwks.keys_for(kid):
                if candidate.accepts(alg):
                    tried = True
                    payload = self._payload_if_signed_by(token, candidate.key, alg)
                    if payload is not None:
                        return payload
        if tried:
            raise AuthenticationError("Invalid token signature")
        if kid is not None and self._remote(alg):
            raise AuthenticationError("Unknown signing key ('kid')")
        raise AuthenticationError("No verification key configured for the token's algorithm")

    def _payload_if_signed_by(self, token: str, key: bytes | PublicKey, alg: str) -> bytes | None:
        try:
            decoded = self._jws.decode_complete(token, key, algorithms=[alg])
        except jwt.InvalidSignatureError:
            return None
        except jwt.PyJWTError:
            # e.g. an unsupported `crit` extension or a detached (`b64: false`) payload.
            raise AuthenticationError("Token uses unsupported JWS features") from None
        payload: bytes = decoded["payload"]
        return payload

    def _remote(self, alg: str) -> bool:
        return self._jwks is not None and alg not in HMAC_ALGORITHMS


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDeniedError("This endpoint requires the admin role")


def _local_keys_by_algorithm(
    algorithms: frozenset[str], secret: bytes, static_keys: tuple[VerificationKey, ...]
) -> dict[str, tuple[bytes | PublicKey, ...]]:
    """Per pinned algorithm, the configured keys of its family: the shared secret only ever for HMAC."""
    keys: dict[str, tuple[bytes | PublicKey, ...]] = {}
    for alg in algorithms:
        if alg in HMAC_ALGORITHMS:
            keys[alg] = (secret,) if secret else ()
        else:
            keys[alg] = tuple(key.key for key in static_keys if key.accepts(alg))
    return keys


def _decode_claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = orjson.loads(payload)
    except orjson.JSONDecodeError:
        claims = None
    if not isinstance(claims, dict):
        raise AuthenticationError("Token payload is not a JSON object")
    return claims
