"""Checks on a new key's settings, shared by the CLI's arguments and the admin API's JSON body."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from gateway.errors import InvalidRequestError
from gateway.keys.service import KeyRequest

MAX_NAME_CHARS = 128
_FIELDS = frozenset({"name", "subject", "roles", "rpm", "tpm", "daily_usd", "monthly_usd", "expires_at"})


def parse_expiry(text: str, now: datetime) -> datetime:
    """`YYYY-MM-DD` (the end of that UTC day) or an ISO 8601 moment (UTC when no offset); must be in the future."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(f"'expires_at' must be a date or ISO 8601 time, got '{text[:40]}'",
                                  param="expires_at") from None
    if len(text) == 10:  # a bare date: the key works through that whole day
        moment = datetime.combine(moment.date(), time.max)
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if moment <= now:
        raise InvalidRequestError("'expires_at' must be in the future", param="expires_at")
    return moment


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequestError(f"'{name}' must be a whole number >= 1 or null", param=name)
    return value


def _usd(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidRequestError(f"'{name}' must be a number of USD >= 0 or null", param=name)
    return float(value)


def _text(name: str, value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise InvalidRequestError(f"'{name}' must be a non-empty string of at most {MAX_NAME_CHARS} characters",
                                  param=name)
    return value.strip()


def key_request(org: str, body: Any, now: datetime) -> KeyRequest:
    """A KeyRequest from a JSON body; unknown fields are refused so a typo never silently drops a limit."""
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequestError(f"Unknown field(s): {', '.join(unknown)}", param=unknown[0])
    roles = body.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
        raise InvalidRequestError("'roles' must be a list of role names", param="roles")
    expires = body.get("expires_at")
    if expires is not None and not isinstance(expires, str):
        raise InvalidRequestError("'expires_at' must be a string", param="expires_at")
    return KeyRequest(
        org=org, name=_text("name", body.get("name")) or "", subject=_text("subject", body.get("subject")),
        roles=tuple(roles), rpm=_count("rpm", body.get("rpm")), tpm=_count("tpm", body.get("tpm")),
        daily_usd=_usd("daily_usd", body.get("daily_usd")), monthly_usd=_usd("monthly_usd", body.get("monthly_usd")),
        expires_at=parse_expiry(expires, now) if expires is not None else None,
    )
