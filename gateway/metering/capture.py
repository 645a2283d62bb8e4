"""What a call record keeps of the prompt and the answers: the prompt text (for its hash), what was asked to be
captured, each choice's outcome, and the size cap on captured text.

Capture is opt-in: the global settings, the org's and the task's policy, and the request's `x-gateway-capture`
header each add to it (none can take away what another asked for). Without capture a record still holds the
prompt's hash and each choice's finish reason and seed, never text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidRequestError

CAPTURE_HEADER = "x-gateway-capture"
CAPTURE_PARTS = frozenset({"prompt", "output"})
TRUNCATION_MARK = "…[truncated {dropped} chars]"
ERROR_MESSAGE_MAX_CHARS = 500  # an upstream's error text can be a whole HTML page: the record keeps its start


@dataclass(frozen=True, slots=True)
class Capture:
    """Which texts this call's record keeps, and how many characters of each at most."""

    prompt: bool = False
    output: bool = False
    max_chars: int = 20_000

    @classmethod
    def of(cls, parts: Iterable[str], max_chars: int) -> Capture:
        chosen = set(parts)
        return cls(prompt="prompt" in chosen, output="output" in chosen, max_chars=max_chars)


def parse_capture_header(value: str | None) -> frozenset[str]:
    """`x-gateway-capture: prompt,output` → {"prompt", "output"}; anything else named there is a 400."""
    if not value:
        return frozenset()
    parts = frozenset(part.strip().lower() for part in value.split(",") if part.strip())
    unknown = sorted(parts - CAPTURE_PARTS)
    if unknown:
        raise InvalidRequestError(
            f"'{CAPTURE_HEADER}' lists {', '.join(unknown)}: it takes 'prompt' and/or 'output', comma separated.",
            param=CAPTURE_HEADER,
        )
    return parts


def capped(text: str, max_chars: int) -> tuple[str, bool]:
    """The text cut to `max_chars` with a visible mark saying how much was dropped; whether it was cut."""
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + TRUNCATION_MARK.format(dropped=len(text) - max_chars), True


def _content_text(content: Any) -> str | None:
    """A message's or item's text: a string, or the `text` of each text part of a content array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)]
        return "\n".join(texts) if texts else None
    return None


def prompt_text(prompt: Any) -> str:
    """The prompt's text in order, one message (or input item, or input string) per line.

    Chat: each message's text content (string, or its text parts); images, audio and tool-call arguments carry no
    prompt text. Responses: the input string, or each input item's text. Embeddings: the input strings (token
    arrays have no text). `prompt_sha256` is the SHA-256 of this text, UTF-8 encoded.
    """
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, list):
        return ""
    texts: list[str] = []
    for item in prompt:
        text = item if isinstance(item, str) else _content_text(item.get("content")) if isinstance(
            item, Mapping) else None
        if text is not None:
            texts.append(text)
    return "\n".join(texts)


@dataclass(frozen=True, slots=True)
class ChoiceOutput:
    """One upstream answer's choice: why it ended, and its text (None unless output capture is on)."""

    finish_reason: str | None = None
    text: str | None = None


def chat_choice_output(choice: Mapping[str, Any] | None, capture: bool) -> ChoiceOutput:
    if not isinstance(choice, Mapping):
        return ChoiceOutput()
    reason = choice.get("finish_reason")
    text = None
    if capture:
        message = choice.get("message")
        text = _content_text(message.get("content")) if isinstance(message, Mapping) else None
    return ChoiceOutput(reason if isinstance(reason, str) else None, text)


def responses_output(parsed: Mapping[str, Any], capture: bool) -> ChoiceOutput:
    """A Responses answer as one choice: its status ends it; its text is every `output_text` part, in order."""
    status = parsed.get("status")
    text = None
    if capture:
        items = parsed.get("output") if isinstance(parsed.get("output"), list) else []
        texts = [part["text"] for item in items if isinstance(item, Mapping) and isinstance(item.get("content"), list)
                 for part in item["content"]
                 if isinstance(part, Mapping) and part.get("type") == "output_text" and isinstance(part.get("text"),
                                                                                                     str)]
        text = "".join(texts)
    return ChoiceOutput(status if isinstance(status, str) else None, text)


def choice_entries(outputs: Iterable[ChoiceOutput], seed: int | None, capture: Capture) -> list[dict[str, Any]]:
    """The record's `choices`: index, finish_reason, the seed that copy was sent with, and its text if captured."""
    entries: list[dict[str, Any]] = []
    for index, output in enumerate(outputs):
        entry: dict[str, Any] = {"index": index, "finish_reason": output.finish_reason,
                                 "seed": None if seed is None else seed + index}
        if capture.output and output.text is not None:
            entry["text"], truncated = capped(output.text, capture.max_chars)
            if truncated:
                entry["truncated"] = True
        entries.append(entry)
    return entries
