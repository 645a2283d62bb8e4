"""State of one org in the in-process backend, mirroring the Redis keys and the Lua helpers in common.lua."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.limits import gcra


@dataclass
class Reservation:
    reserve: int  # nano-dollars
    tokens: int  # estimate consumed from tpm at admission
    org_interval: float  # ms per token of the org tpm limit then (0 when unlimited)
    subject_interval: float
    subject: str
    expires_ms: float


@dataclass
class OrgState:
    tats: dict[str, float] = field(default_factory=dict)  # "rpm", "tpm", "sub:<s>:rpm", "sub:<s>:tpm"
    reservations: dict[str, Reservation] = field(default_factory=dict)
    reserved: int = 0
    inflight: dict[str, dict[str, float]] = field(default_factory=dict)  # subject → request id → expiry ms
    spend_by_day: dict[str, int] = field(default_factory=dict)
    spend_by_month: dict[str, int] = field(default_factory=dict)
    spend_by_model: dict[str, int] = field(default_factory=dict)  # "YYYY-MM|model"
    alerts: set[str] = field(default_factory=set)
    settled: dict[str, float] = field(default_factory=dict)  # request id → marker expiry ms, insertion-ordered
    override: dict[str, str] = field(default_factory=dict)

    def tat(self, key: str) -> float | None:
        return self.tats.get(key)

    def store_tat(self, key: str, tat: float | None, now_ms: float) -> None:
        # As in Redis, a fully replenished limit has no state at all.
        if tat is None or tat <= now_ms:
            self.tats.pop(key, None)
        else:
            self.tats[key] = tat

    def subject_inflight(self, subject: str, now_ms: float) -> dict[str, float]:
        slots = self.inflight.setdefault(subject, {})
        for request_id in [rid for rid, expires in slots.items() if expires <= now_ms]:
            del slots[request_id]
        return slots

    def purge_expired(self, now_ms: float) -> None:
        expired = [rid for rid, res in self.reservations.items() if res.expires_ms <= now_ms]
        for request_id in expired:
            self.reserved -= self.reservations.pop(request_id).reserve

    def finish(self, request_id: str, subject: str, actual_tokens: int, now_ms: float) -> bool:
        """End a reservation (settle or release); True when it was still live. Mirrors finish_reservation."""
        self.inflight.get(subject, {}).pop(request_id, None)
        res = self.reservations.pop(request_id, None)
        if res is None:
            return False
        self.reserved -= res.reserve
        delta = actual_tokens - res.tokens
        for key, interval in (("tpm", res.org_interval), (f"sub:{subject}:tpm", res.subject_interval)):
            if interval > 0 and delta != 0:
                self.store_tat(key, gcra.shift(self.tat(key), now_ms, delta, interval), now_ms)
        return True

    def mark_settled(self, request_id: str, now_ms: float, ttl_ms: float) -> bool:
        """False when this request id was already settled (within the marker TTL)."""
        while self.settled:
            oldest, expires = next(iter(self.settled.items()))
            if expires > now_ms:
                break
            del self.settled[oldest]
        if request_id in self.settled:
            return False
        self.settled[request_id] = now_ms + ttl_ms
        return True
