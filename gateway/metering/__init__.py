"""The call ledger: one reproducible record per call, and where those records are kept."""

from gateway.metering.export import ExportFormat, export_records, import_records
from gateway.metering.jsonl_ledger import JsonlLedger
from gateway.metering.ledger import ErrorHook, FanoutLedger, Ledger, MemoryLedger
from gateway.metering.record import LedgerRecord, TokenUsage, messages_hash, prompt_hash, utc_timestamp
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
    "messages_hash",
    "parse_tags",
    "prompt_hash",
    "utc_timestamp",
]
