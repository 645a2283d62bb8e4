"""Open the admin commands' Redis limiter and turn every way that can fail into a one-line message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.redis_client import open_redis

# An admin command talks to one Redis once; failing within seconds beats hanging on a wrong host.
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 15.0


class ConnectionSetupError(Exception):
    """REDIS_URL cannot be used at all (as opposed to Redis being down)."""


def redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return "<unparseable url>"


@asynccontextmanager
async def redis_limiter(url: str, *, cluster: bool = False) -> AsyncIterator[RedisLimiterBackend]:
    try:
        client = open_redis(
            url, cluster=cluster, connect_timeout_s=CONNECT_TIMEOUT_S, socket_timeout_s=COMMAND_TIMEOUT_S
        )
    except ValueError as exc:
        raise ConnectionSetupError(f"REDIS_URL {redacted(url)!r} is not a usable Redis URL: {exc}") from exc
    backend = RedisLimiterBackend(client)
    try:
        yield backend
    finally:
        await backend.aclose()
        await client.aclose()
