"""One ledger record per call: what was asked, what was routed and served, what it used and cost.

Records hold no request headers at all; tags are parsed out of one header's value before the record is built.
Every string a client can influence (request id, model names, task, tags, stop sequences, a captured prompt) is
masked with the log redaction rules when the record is built and again when it is serialised, so a bearer token,
key or JWT a client slips into any of them never reaches a ledger.
"""

from __future__ import annotations

import hashlib
import operator
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from gateway.log import might_hold_secret, redact_text
from gateway.metering.capture import ERROR_MESSAGE_MAX_CHARS, Capture, capped, prompt_text
from gateway.metering.tags import parse_tags

_INT64 = 2**63
PROMPT_MASK = "[prompt]"
PROMPT_ECHO_MIN_CHARS = 8  # shorter prompt lines ("hi", "ok") would mask ordinary words of an error message
CostSource = Literal["usage", "generation", "estimate"]


def utc_timestamp(moment: datetime | None = None) -> str:
    """UTC ISO 8601 with millisecond precision and a `Z`, the form every record's `timestamp` has."""
    if moment is None:  # every call records "now": formatted from the epoch, three times faster than datetime
        now = time.time()
        seconds = int(now)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((now - seconds) * 1000):03d}Z"
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def canonical_messages(messages: object) -> bytes:
    """Key-sorted compact JSON: the same conversation hashes the same whatever order its keys arrived in."""
    return orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)


def messages_hash(messages: object) -> str:
    """`messages_sha256`: SHA-256 of the key-sorted messages JSON (roles, names, tool calls and all)."""
    return hashlib.sha256(canonical_messages(messages)).hexdigest()


def prompt_hash(prompt: object) -> str:
    """`prompt_sha256`: SHA-256 of the prompt's text (see `capture.prompt_text`), UTF-8 encoded."""
    return hashlib.sha256(prompt_text(prompt).encode()).hexdigest()


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _optional_int(value: object) -> int | None:
    # Out-of-range integers (a seed of 2**70 is valid JSON) would make the record unserialisable.
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    return None


def _detail(usage: Mapping[str, Any], group: str, name: str) -> int:
    details = usage.get(group)
    return _int(details.get(name)) if isinstance(details, Mapping) else 0


def _stop(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)] or None
    return None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt: int = 0
    completion: int = 0
    reasoning: int = 0
    cached: int = 0
    cost_usd: float = 0.0

    @classmethod
    def from_usage(cls, usage: Mapping[str, Any] | None) -> TokenUsage:
        """Read OpenRouter's `usage` object; missing or malformed figures count as zero."""
        if not isinstance(usage, Mapping):
            return cls()
        return cls(
            prompt=_int(usage.get("prompt_tokens")),
            completion=_int(usage.get("completion_tokens")),
            reasoning=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
            cached=_detail(usage, "prompt_tokens_details", "cached_tokens"),
            cost_usd=_float(usage.get("cost")),
        )


@dataclass(slots=True)
class LedgerRecord:
    request_id: str
    timestamp: str
    org: str
    subject: str
    task: str | None
    model_requested: str
    model_routed: str
    endpoint: str = "chat.completions"  # the API: "chat.completions", "responses" or "embeddings"
    model_served: str | None = None
    model_version: str | None = None  # the `model` the upstream's answer named (None if it named none)
    system_fingerprint: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    n: int = 1
    stop: list[str] | None = None
    prompt_sha256: str = ""  # SHA-256 of the prompt text
    messages_sha256: str = ""  # SHA-256 of the key-sorted messages JSON
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    # Where cost and tokens came from: the response's `usage` (normal case), OpenRouter's `/generation` record
    # (a stream cut before its usage chunk, reconciled afterwards), or an estimate from the characters streamed.
    cost_source: CostSource = "usage"
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    retries: int = 0
    fallbacks: int = 0
    status: int = 0
    error_type: str | None = None
    error_message: str | None = None
    stream: bool = False
    cancelled: bool = False
    cache: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    prompt: str | None = None
    prompt_truncated: bool = False
    # One entry per choice: index, finish_reason, seed (the seed that copy was sent with), text when captured.
    choices: list[dict[str, Any]] | None = None

    def scrub(self) -> None:
        """Mask tokens, keys and JWTs in every client-influenced string (idempotent; cheap when there are none)."""
        # The usual case, no marker anywhere, costs one C-level gather and join and four substring scans.
        text = "\n".join(filter(None, _scrubbed_values(self)))
        if self.stop:
            text += "\n".join(self.stop)
        if self.tags:
            text += "\n".join(self.tags) + "\n".join(self.tags.values())
        if self.choices:
            text += "\n".join(str(choice.get("text") or "") for choice in self.choices)
        if not might_hold_secret(text):
            return
        for name in _SCRUBBED_FIELDS:
            value = getattr(self, name)
            if value and might_hold_secret(value):
                setattr(self, name, redact_text(value))
        if self.stop and any(might_hold_secret(item) for item in self.stop):
            self.stop = [redact_text(item) for item in self.stop]
        if self.tags and any(might_hold_secret(key + value) for key, value in self.tags.items()):
            self.tags = {redact_text(key): redact_text(value) for key, value in self.tags.items()}
        if self.choices:
            self.choices = [{**choice, "text": redact_text(choice["text"])} if isinstance(choice.get("text"), str)
                            else choice for choice in self.choices]

    @classmethod
    def start(
        cls,
        *,
        request_id: str,
        org: str,
        subject: str,
        task: str | None,
        model_requested: str,
        model_routed: str,
        body: Mapping[str, Any],
        tags_header: str | None = None,
        capture_prompt: bool = False,
        capture: Capture | None = None,
        endpoint: str = "chat.completions",
        now: datetime | None = None,
    ) -> LedgerRecord:
        """A record for a call about to go upstream, from the parsed request body (never its headers).

        The prompt text is kept only when capture asks for it (`capture`, or `capture_prompt` alone); it is the
        exact text that was hashed, so `sha256(prompt) == prompt_sha256` and a researcher can check one against the
        other (unless it was cut to the size cap, which `prompt_truncated` says, or a token or key in it was masked:
        the hash is always of what was sent).
        """
        messages = body.get("messages")
        text = prompt_text(messages)
        keep = capture.prompt if capture is not None else capture_prompt
        kept, truncated = capped(text, capture.max_chars) if keep and capture is not None else (text, False)
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        record = cls(
            request_id=request_id,
            timestamp=utc_timestamp(now),
            org=org,
            subject=subject,
            task=task,
            model_requested=model_requested,
            model_routed=model_routed,
            endpoint=endpoint,
            temperature=_optional_float(body.get("temperature")),
            top_p=_optional_float(body.get("top_p")),
            max_tokens=_optional_int(max_tokens),
            seed=_optional_int(body.get("seed")),
            n=_optional_int(body.get("n")) or 1,
            stop=_stop(body.get("stop")),
            prompt_sha256=hashlib.sha256(text.encode()).hexdigest(),
            messages_sha256=hashlib.sha256(canonical_messages(messages)).hexdigest(),
            stream=bool(body.get("stream")),
            tags=parse_tags(body.get("metadata"), tags_header),
            prompt=kept if keep else None,
            prompt_truncated=truncated,
        )
        record.scrub()
        return record

    def add_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Add one upstream response's usage; called once per choice when n > 1 is fanned out."""
        figures = TokenUsage.from_usage(usage)
        self.prompt_tokens += figures.prompt
        self.completion_tokens += figures.completion
        self.reasoning_tokens += figures.reasoning
        self.cached_tokens += figures.cached
        self.cost_usd = round(self.cost_usd + figures.cost_usd, 10)

    def fail(self, message: str | None, prompt: object = None) -> None:
        """Keep a failed call's error message: secrets masked, cut to a bounded length.

        An upstream's message may quote the input (a provider's raw error); when the prompt is not captured, any
        of `prompt`'s text found in the message is masked too, so the record does not keep it that way.
        """
        if not message:
            return
        if prompt is not None:
            for segment in sorted(prompt_text(prompt).split("\n"), key=len, reverse=True):
                if len(segment.strip()) >= PROMPT_ECHO_MIN_CHARS and segment in message:
                    message = message.replace(segment, PROMPT_MASK)
        self.error_message = capped(redact_text(message), ERROR_MESSAGE_MAX_CHARS)[0]

    def to_json(self) -> bytes:
        self.scrub()  # fields filled in after `start` (the model that served, its provider) get the same rules
        return orjson.dumps(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerRecord:
        """Rebuild from `to_json` output; unknown keys (from a newer writer) are ignored."""
        known = {name: data[name] for name in FIELD_NAMES if name in data}
        return cls(**known)

    @classmethod
    def from_json(cls, raw: bytes | str) -> LedgerRecord:
        return cls.from_dict(orjson.loads(raw))

    def moment(self) -> datetime:
        return parse_timestamp(self.timestamp)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(LedgerRecord))
_SCRUBBED_FIELDS = ("request_id", "org", "subject", "task", "model_requested", "model_routed", "endpoint",
                    "model_served", "model_version", "system_fingerprint", "provider", "generation_id", "error_type",
                    "error_message", "cache", "prompt")
_scrubbed_values = operator.attrgetter(*_SCRUBBED_FIELDS)
