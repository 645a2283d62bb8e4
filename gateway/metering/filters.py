"""Filters a reader of call records takes from a person or a URL: `--tag KEY=VALUE` / `?tag=KEY:VALUE`, `since`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def parse_tag_filter(text: str) -> tuple[str, str]:
    """`run_id=run-42` or `run_id:run-42` (the first `=`, else the first `:`, separates key and value)."""
    separator = "=" if "=" in text else ":"
    key, found, value = text.partition(separator)
    if not found or not key.strip():
        raise ValueError(f"expected a tag filter as KEY=VALUE (or KEY:VALUE), got {text!r}")
    return key.strip(), value.strip()


def tag_filters(texts: Iterable[str]) -> dict[str, str]:
    """Every filter must hold: a record matches when it carries each key with exactly that value."""
    return dict(parse_tag_filter(text) for text in texts)


def parse_since(text: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is UTC (the ledger's timestamps are UTC)."""
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
