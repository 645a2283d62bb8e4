"""A remote JWK Set (Clerk, Auth0, Keycloak…) fetched with httpx and cached.

Three rules keep the identity provider safe from our traffic: keys are cached for a TTL; an unknown `kid`
(the usual sign of key rotation) triggers a refresh, but fetches are spaced by a minimum interval because
`kid` is attacker-controlled; and concurrent refreshes share one fetch (single-flight).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import httpx
import structlog

from gateway.auth.keys import VerificationKey, keys_from_jwks
from gateway.errors import ServiceUnavailableError


class JwksCache:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        ttl_s: float,
        min_refresh_interval_s: float,
        fetch_timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._url = url
        self._http = http
        self._ttl_s = ttl_s
        self._min_refresh_interval_s = min_refresh_interval_s
        self._fetch_timeout_s = fetch_timeout_s
        self._clock = clock
        self._log = structlog.get_logger()
        self._all: tuple[VerificationKey, ...] = ()
        self._unnamed: tuple[VerificationKey, ...] = ()
        self._by_kid: dict[str, tuple[VerificationKey, ...]] = {}
        self._loaded_at: float | None = None
        self._last_attempt = -math.inf
        self._inflight: asyncio.Task[None] | None = None

    async def keys_for(self, kid: str | None) -> tuple[VerificationKey, ...]:
        """Keys that may have signed a token with this `kid` (all keys when the token names none)."""
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl_s or (
            kid is not None and kid not in self._by_kid
        ):
            await self._refresh(now)
        if self._loaded_at is None:
            # Not the caller's fault, so not a 401: their token may be perfectly valid.
            raise ServiceUnavailableError("Identity provider signing keys are unavailable")
        if kid is None:
            return self._all
        return self._by_kid.get(kid, self._unnamed)

    async def aclose(self) -> None:
        if self._inflight is not None:
            self._inflight.cancel()

    async def _refresh(self, now: float) -> None:
        if self._inflight is None:
            if now - self._last_attempt < self._min_refresh_interval_s:
                return  # rate-limited: answer from what we have (stale keys beat no keys)
            self._last_attempt = now
            self._inflight = asyncio.create_task(self._fetch())
            self._inflight.add_done_callback(self._forget_inflight)
        # Shielded so one cancelled request does not cancel the fetch other requests are waiting on.
        await asyncio.shield(self._inflight)

    def _forget_inflight(self, _: asyncio.Task[None]) -> None:
        self._inflight = None

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(
                self._url, timeout=self._fetch_timeout_s, headers={"accept": "application/json"}
            )
            response.raise_for_status()
            keys = keys_from_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            # Keep serving the previous keys; the next attempt waits out the minimum interval.
            self._log.warning("auth.jwks_fetch_failed", url=self._url, error=type(exc).__name__, detail=str(exc))
            return
        self._install(keys)

    def _install(self, keys: tuple[VerificationKey, ...]) -> None:
        by_kid: dict[str, list[VerificationKey]] = {}
        for key in keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        self._all = keys
        self._unnamed = tuple(key for key in keys if key.kid is None)
        self._by_kid = {kid: tuple(group) for kid, group in by_kid.items()}
        self._loaded_at = self._clock()
        self._log.info("auth.jwks_loaded", url=self._url, keys=len(keys))
