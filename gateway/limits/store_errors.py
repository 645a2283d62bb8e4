"""Redis failures translated into the gateway's errors at the store boundary: unreachable, or only busy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors

from gateway.errors import ServiceUnavailableError

# Errors that mean "the store is unreachable", as opposed to a bug in a command or script.
STORE_DOWN: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
)


class StoreBusyError(ServiceUnavailableError):
    """The client's connection pool is exhausted: a 503 for this request, but not evidence that Redis is down.

    Give the client a `BlockingConnectionPool` so bursts wait for a connection instead of failing.
    """


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate an unreachable Redis into the gateway's 503 at this boundary."""
    try:
        yield
    except (redis_errors.MaxConnectionsError, redis_errors.TryAgainError) as exc:  # a full pool, a slot moving
        raise StoreBusyError("rate limit store busy") from exc
    except STORE_DOWN as exc:
        raise ServiceUnavailableError("rate limit store unavailable") from exc
