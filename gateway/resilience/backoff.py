"""How long to wait before a retry: exponential backoff with full jitter, or what the upstream asked for."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from gateway.errors import GatewayError


def full_jitter(retry_index: int, base_s: float, cap_s: float, rng: Callable[[], float]) -> float:
    """A uniform draw from [0, min(cap, base * 2**retry_index)).

    Full jitter (rather than equal or no jitter) spreads the retries of many clients that failed together, so
    they do not return as a synchronised wave (AWS Architecture Blog, "Exponential Backoff And Jitter").
    """
    ceiling = min(cap_s, base_s * math.pow(2, min(retry_index, 62)))
    return rng() * ceiling


def parse_retry_after(value: str | None, now_epoch_s: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value (delta-seconds, fractional allowed, or an HTTP-date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_date(text, time.time() if now_epoch_s is None else now_epoch_s)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until_date(text: str, now_epoch_s: float) -> float | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - now_epoch_s


def retry_after_of(exc: GatewayError) -> float | None:
    """The upstream's `Retry-After` hint, relayed on the error by the upstream translation layer."""
    for name, value in exc.headers.items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None
