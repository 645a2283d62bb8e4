"""Caller-supplied tags for a call: OpenAI's `metadata` object and the `x-gateway-tags` header, bounded."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.log import REDACTED, is_secret_key, redact_text

MAX_TAGS = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512


def _tag_value(value: object) -> str | None:
    # OpenAI's metadata is string → string; scalars are accepted as their text, anything nested is dropped
    # rather than stringified, so a tag never smuggles an arbitrarily large structure into the ledger.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _add(tags: dict[str, str], key: object, value: object) -> None:
    if not isinstance(key, str):
        return
    key = key.strip()
    text = _tag_value(value)
    # Over-long keys are dropped, not truncated: two truncated keys could collide and overwrite each other.
    if not key or len(key) > MAX_KEY_CHARS or text is None:
        return
    if key not in tags and len(tags) >= MAX_TAGS:
        return
    # Same rules as log lines: a secret-named tag keeps its name only, a token or key anywhere is masked.
    # Masked before the cut: a JWT cut before its second dot would no longer look like one.
    tags[redact_text(key)] = REDACTED if is_secret_key(key) else redact_text(text)[:MAX_VALUE_CHARS]


def _header_pairs(header: str) -> list[tuple[str, str]]:
    pairs = []
    for item in header.split(","):
        key, sep, value = item.partition("=")
        if sep:
            pairs.append((key, value.strip()))
    return pairs


def parse_tags(metadata: object, header: str | None) -> dict[str, str]:
    """Tags from the request body's `metadata` then the `k=v,k2=v2` header; the header wins on a shared key.

    At most MAX_TAGS pairs, keys of at most MAX_KEY_CHARS (longer ones dropped), values cut to MAX_VALUE_CHARS,
    bearer tokens, keys and JWTs masked as in the logs.
    Malformed input is ignored rather than rejected: tags are for bookkeeping and must not fail a call.
    """
    tags: dict[str, str] = {}
    if isinstance(metadata, Mapping):
        for key, value in metadata.items():
            _add(tags, key, value)
    if header:
        for key, value in _header_pairs(header):
            _add(tags, key, value)
    return tags
