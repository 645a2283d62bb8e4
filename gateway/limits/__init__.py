"""Admission (rate limits + budget reservation) and settlement, on Redis or in process, behind one Protocol."""

from gateway.limits.backend import LimiterBackend
from gateway.limits.clock import Clock, ManualClock, SystemClock
from gateway.limits.memory_backend import MemoryLimiterBackend
from gateway.limits.redis_backend import RedisLimiterBackend
from gateway.limits.resilient import FailMode, ResilientLimiter
from gateway.limits.spool import ReplayReport, SettlementSpool
from gateway.limits.types import (
    Admission,
    AdmissionRequest,
    Budget,
    BudgetAlert,
    RateLimits,
    Settlement,
    SpendSummary,
)

__all__ = [
    "Admission",
    "AdmissionRequest",
    "Budget",
    "BudgetAlert",
    "Clock",
    "FailMode",
    "LimiterBackend",
    "ManualClock",
    "MemoryLimiterBackend",
    "RateLimits",
    "RedisLimiterBackend",
    "ReplayReport",
    "ResilientLimiter",
    "Settlement",
    "SettlementSpool",
    "SpendSummary",
    "SystemClock",
]
