"""Redis key layout. Every key of one org carries the hash tag `{org}`, so one script touches one cluster slot."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "gw"
# The only key outside an org's slot: the index of orgs with overrides, written beside (not inside) scripts.
ORGS_INDEX = f"{PREFIX}:orgs"


@dataclass(frozen=True)
class OrgKeys:
    """Keys of one org (and, via `subject`, of one of its subjects)."""

    org: str

    def _key(self, suffix: str) -> str:
        return f"{PREFIX}:{{{self.org}}}:{suffix}"

    @property
    def rpm(self) -> str:  # GCRA TAT, ms as a float string, expires when fully replenished
        return self._key("rpm")

    @property
    def tpm(self) -> str:
        return self._key("tpm")

    @property
    def rps(self) -> str:  # GCRA TAT of the per-second limit
        return self._key("rps")

    @property
    def reservations(self) -> str:  # hash request id → "reserve_nano|tokens|org_tpm_T|subject_tpm_T"
        return self._key("res")

    @property
    def reservation_expiry(self) -> str:  # zset request id → expiry ms; its size is the org's in-flight count
        return self._key("res:exp")

    @property
    def reserved(self) -> str:  # integer nano-dollars held by live reservations
        return self._key("reserved")

    @property
    def spend_by_day(self) -> str:  # hash YYYY-MM-DD → nano
        return self._key("spend:day")

    @property
    def spend_by_month(self) -> str:  # hash YYYY-MM → nano
        return self._key("spend:month")

    @property
    def spend_by_model(self) -> str:  # hash "YYYY-MM|model" → nano
        return self._key("spend:model")

    @property
    def alerts(self) -> str:  # hash "daily:YYYY-MM-DD:80" → 1, once per threshold per period
        return self._key("alerts")

    @property
    def override(self) -> str:  # hash rpm, tpm, max_concurrent, daily_nano, monthly_nano (only set fields)
        return self._key("override")

    @property
    def api_keys(self) -> str:  # hash API key id → SHA-256 of the key (the record lives under gw:apikey:<digest>)
        return self._key("apikeys")

    @property
    def settled(self) -> str:  # zset request id → marker expiry ms: settlements of the idempotency window
        return self._key("settled")

    def subject(self, subject: str) -> SubjectKeys:
        return SubjectKeys(self._key(f"sub:{subject}"))

    def api_key(self, key_id: str) -> ApiKeyKeys:
        return ApiKeyKeys(self._key(f"key:{key_id}"))

    def tag(self, key: str, value: str) -> str:  # hash cost_nano, tokens, calls; expires after the retention
        # Length-prefixed key so a ':' inside a tag key cannot make two different tags share a counter.
        return self._key(f"tag:{len(key)}:{key}:{value}")


@dataclass(frozen=True)
class _RateKeys:
    """The GCRA state of a scope's per-minute limits."""

    base: str

    @property
    def rpm(self) -> str:
        return f"{self.base}:rpm"

    @property
    def tpm(self) -> str:
        return f"{self.base}:tpm"


@dataclass(frozen=True)
class SubjectKeys(_RateKeys):
    @property
    def rps(self) -> str:
        return f"{self.base}:rps"

    @property
    def inflight(self) -> str:  # zset request id → expiry ms
        return f"{self.base}:inflight"


@dataclass(frozen=True)
class ApiKeyKeys(_RateKeys):
    """Keys of one API key's limits and spend, inside its org's slot."""

    @property
    def reservations(self) -> str:  # hash request id → "reserve_nano|tokens|key_tpm_interval_ms|0"
        return f"{self.base}:res"

    @property
    def reservation_expiry(self) -> str:
        return f"{self.base}:res:exp"

    @property
    def reserved(self) -> str:
        return f"{self.base}:reserved"

    @property
    def spend(self) -> str:  # hash "d:YYYY-MM-DD" / "m:YYYY-MM" / "total" → nano, "last_used_ms"
        return f"{self.base}:spend"
