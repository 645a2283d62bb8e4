"""The trailing KEYS and ARGV of API keys and tag totals (issue 15), as admit/settle/release.lua read them.

These sections go after every other key and argument, counted by the last ARGV entries, so the scripts' other
blocks can grow their own arguments without renumbering these (see the comments at the top of each script).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.limits.keys import OrgKeys
from gateway.limits.types import KeyLimits, RateName, RateProbe, from_nano


def _opt(value: float | int | None) -> str:
    return "" if value is None else str(value)


def _opt_nano(usd: float | None) -> str:
    return "" if usd is None else str(round(usd * 1_000_000_000))


def admit_tail(org: OrgKeys, key: KeyLimits | None) -> tuple[list[str], list[str]]:
    if key is None:
        return [], ["0"]
    keys_ = org.api_key(key.key_id)
    keys = [keys_.rpm, keys_.tpm, keys_.reservations, keys_.reservation_expiry, keys_.reserved, keys_.spend]
    args = [_opt(key.rpm), _opt(key.tpm), _opt_nano(key.daily_usd), _opt_nano(key.monthly_usd), str(len(keys))]
    return keys, args


def settle_tail(
    org: OrgKeys, key_id: str | None, tags: Mapping[str, str], retention_s: float
) -> tuple[list[str], list[str]]:
    key_keys: list[str] = []
    if key_id is not None:
        keys_ = org.api_key(key_id)
        key_keys = [keys_.reservations, keys_.reservation_expiry, keys_.reserved, keys_.tpm, keys_.spend]
    # A zero retention would make PEXPIRE delete the counter at once: such tags are not totalled at all.
    tag_keys = [org.tag(name, value) for name, value in sorted(tags.items())] if retention_s > 0 else []
    retention_ms = str(max(1, int(retention_s * 1000)))
    return [*key_keys, *tag_keys], [retention_ms, str(len(key_keys)), str(len(tag_keys))]


def release_tail(org: OrgKeys, key_id: str | None) -> tuple[list[str], list[str]]:
    if key_id is None:
        return [], ["0"]
    keys_ = org.api_key(key_id)
    keys = [keys_.reservations, keys_.reservation_expiry, keys_.reserved, keys_.tpm]
    return keys, [str(len(keys))]


def nano_fields(flat: list[object]) -> dict[str, str]:
    items = [value.decode() if isinstance(value, bytes) else str(value) for value in flat]
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}


def usd(fields: Mapping[str, str], name: str) -> float:
    return from_nano(int(fields.get(name, "0")))


def tat_key(org: OrgKeys, probe: RateProbe, name: RateName) -> str:
    """The Redis key holding the TAT of one of the probe's limits."""
    scope, _, kind = name.partition("_")
    if scope == "org":
        return org.rpm if kind == "rpm" else org.tpm
    if scope == "subject":
        sub = org.subject(probe.subject)
        return sub.rpm if kind == "rpm" else sub.tpm
    key = org.api_key(probe.key_id or "")
    return key.rpm if kind == "rpm" else key.tpm


def days(fields: Mapping[str, str]) -> dict[str, float]:
    return {name[2:]: from_nano(int(value)) for name, value in sorted(fields.items()) if name.startswith("d:")}
