"""The call ledger: one reproducible record per call, and where those records are kept."""

from gateway.metering.export import ExportFormat, export_records, import_records
from gateway.metering.jsonl_ledger import JsonlLedger
from gateway.metering.ledger import ErrorHook, FanoutLedger, Ledger, MemoryLedger
from gateway.metering.record import LedgerRecord, TokenUsage, prompt_hash, utc_timestamp
from gateway.metering.redis_ledger import RedisStreamLedger
from gateway.metering.tags import parse_tags

__all__ = [
    "ErrorHook",
    "ExportFormat",
    "FanoutLedger",
    "JsonlLedger",
    "Ledger",
    "LedgerRecord",
    "MemoryLedger",
    "RedisStreamLedger",
    "TokenUsage",
    "export_records",
    "import_records",
    "parse_tags",
    "prompt_hash",
    "utc_timestamp",
]
