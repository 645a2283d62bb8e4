"""structlog JSON logging with a redaction processor, so no token or key can reach a log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = frozenset({"authorization", "api_key", "apikey", "token", "jwt", "secret", "password", "key"})
# Bearer credentials, OpenRouter keys (sk-or-…), the gateway's own API keys (gwk-…) and JWTs (eyJ….….…).
_SECRET_PATTERNS = re.compile(
    r"(?:Bearer\s+\S+)|(?:sk-or-[A-Za-z0-9_\-]+)|(?:gwk-[A-Za-z0-9_\-]+)"
    r"|(?:eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)"
)


def might_hold_secret(text: str) -> bool:
    """A cheap substring pre-check (every pattern above starts with one of these); only text that passes it is worth
    the regular expression. Spelled out rather than looped: this runs on every string of every ledger record."""
    return "eyJ" in text or "sk-or-" in text or "gwk-" in text or "Bearer" in text


def redact_text(text: str) -> str:
    """The text with every bearer token, key and JWT replaced by REDACTED (the same rules as log lines)."""
    return _SECRET_PATTERNS.sub(REDACTED, text) if might_hold_secret(text) else text


def is_secret_key(name: str) -> bool:
    """A field or tag name whose value is a secret whatever it looks like (`password`, `api_key`, …)."""
    return name.lower() in _SECRET_KEYS


_PLAIN = frozenset({int, float, bool})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values under secret-looking keys and mask bearer tokens, OpenRouter keys and JWTs anywhere."""
    for key, value in list(event_dict.items()):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = REDACTED
        elif value is not None and type(value) not in _PLAIN:  # numbers and booleans cannot hold a secret
            event_dict[key] = _scrub(value)
    return event_dict


def write_access_line(line: dict[str, Any]) -> None:
    """The per-request access line: the same JSON as a structlog `info` line, for one `orjson.dumps` and one write.

    structlog's processor chain (context merge, level, ISO stamper, redaction, renderer) costs tens of
    microseconds per call; the access line is written once per request, so it takes the short way with the same
    redaction and the same fields (plus any context variables bound for the request).
    """
    for key, value in structlog.contextvars.get_contextvars().items():
        line.setdefault(key, value)
    line["event"] = "request"
    line["level"] = "info"
    line["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    rendered = orjson.dumps(redact_secrets(None, "info", line), default=str, option=_NEWLINE)
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    if binary is None:  # a text-only stream (a test's capture)
        out.write(rendered.decode())
    else:
        binary.write(rendered)
    out.flush()


_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure_logging(level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
