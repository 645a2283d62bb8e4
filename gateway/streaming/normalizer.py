"""Make an OpenRouter chat-completions SSE stream byte-for-byte what OpenAI clients expect.

Sans-IO: `feed` takes upstream bytes and returns the bytes to send now, so the caller keeps
streaming token by token. Every JSON chunk is parsed (orjson, well under a microsecond for a
typical chunk, about what a byte scan for its text length costs; `completion_chars` needs that
length) but re-serialised only when it has to change: a conforming chunk goes out as the exact
bytes it came in.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import GatewayError, UpstreamError
from gateway.metering.capture import ChoiceOutput
from gateway.streaming.choices import ChoiceRewriter, is_empty_choice
from gateway.streaming.frames import (
    DONE_FRAME,
    HEAD_FIELDS,
    comment_frame,
    data_frame,
    error_frame,
    truncation_error,
    usage_frame,
)
from gateway.streaming.sse import SSEEvent, SSEParser
from gateway.upstream.errors import translate_stream_error

_DONE = b"[DONE]"
_INVALID_CHUNK = "Upstream sent a stream chunk that is not a JSON object"


class ChatStreamNormalizer:
    """One upstream stream in, one OpenAI-conforming stream out; records what metering needs.

    Read-only state: `usage` (OpenRouter's usage, extra fields kept), `error` (the OpenAI error
    object sent to the client, or None), `generation_id` (upstream id, before any rewrite),
    `model`, `provider`, `finish_reasons` (by output choice index), `done` (upstream `[DONE]`
    seen), `truncated` (upstream ended without `[DONE]` or error), `completion_chars`
    (content + reasoning + refusal + tool-argument characters) and `events_out` (data events
    written; keep-alive comments not counted).
    """

    def __init__(
        self,
        *,
        include_usage: bool,
        choice_index: int | None = None,
        response_id: str | None = None,
        emit_terminal: bool = True,
        capture_output: bool = False,
    ) -> None:
        self._include_usage = include_usage
        self._response_id = response_id
        self._emit_terminal = emit_terminal
        self._parser = SSEParser()
        self._choices = ChoiceRewriter(choice_index, capture=capture_output)
        # Identity of the response, repeated in the usage chunk we write ourselves.
        self._head: dict[str, Any] = {}
        self._closed = False  # after [DONE], an error event, or finish(): nothing more goes out
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.generation_id: str | None = None
        self.model: str | None = None
        self.provider: str | None = None
        self.done = False
        self.truncated = False
        self.events_out = 0

    @property
    def finish_reasons(self) -> dict[int, str]:
        return self._choices.finish_reasons

    @property
    def completion_chars(self) -> int:
        return self._choices.completion_chars

    @property
    def system_fingerprint(self) -> str | None:
        return _text(self._head.get("system_fingerprint"))

    def choice_output(self) -> ChoiceOutput:
        """The (one) choice's finish reason, and its text when output capture is on."""
        reasons = self._choices.finish_reasons
        texts = self._choices.texts
        return ChoiceOutput(next(iter(reasons.values()), None), "".join(texts) if texts is not None else None)

    def feed(self, data: bytes) -> bytes:
        """Raw upstream bytes in; the bytes to send to the client now (often b"")."""
        if self._closed:
            return b""
        return self._render(self._parser.feed(data))

    def finish(self) -> bytes:
        """Upstream EOF: flush a last unterminated event; an EOF before `[DONE]` is an error."""
        if self._closed:
            return b""
        out = self._render(self._parser.flush(), at_eof=True)
        if self._closed:
            return out
        self._closed = True
        self.truncated = True
        if not self._emit_terminal:
            return out  # the merger reports the truncation once for all streams
        return out + self._fail(truncation_error())

    def abort(self, message: str, code: str = "upstream_error") -> bytes:
        """A gateway-side failure mid-stream (idle timeout, …): one final error event."""
        if self._closed:
            return b""
        return self._fail(UpstreamError(message, code=code))

    def render_usage(self, usage: dict[str, Any]) -> bytes:
        """OpenAI's final usage chunk for this response (the merger uses it for summed usage)."""
        return usage_frame(self._head, usage)

    def _render(self, events: list[SSEEvent], *, at_eof: bool = False) -> bytes:
        if not events:
            return b""
        out = []
        for event in events:
            if self._closed:
                break  # bytes after [DONE] or an error event are ignored
            out.append(self._on_event(event, at_eof))
        return b"".join(out)

    def _on_event(self, event: SSEEvent, at_eof: bool) -> bytes:
        if event.kind == "comment":
            # Keep-alives (`: OPENROUTER PROCESSING`) stay comments: SDKs skip them.
            return comment_frame(event.payload)
        payload = event.payload
        if payload == _DONE:
            return self._on_done()
        if not payload.strip():
            return b""  # an empty data event carries nothing and would break json parsing
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            if at_eof:
                return b""  # the upstream was cut mid-chunk: finish() reports the truncation
            return self._fail(UpstreamError(_INVALID_CHUNK, code="upstream_invalid_chunk"))
        return self._on_chunk(payload, chunk)

    def _on_done(self) -> bytes:
        self.done = True
        self._closed = True
        if not self._emit_terminal:
            return b""
        out = DONE_FRAME
        self.events_out += 1
        if self._include_usage and self.usage is not None:
            out = self.render_usage(self.usage) + out
            self.events_out += 1
        return out

    def _on_chunk(self, payload: bytes, chunk: dict[str, Any]) -> bytes:
        self._remember(chunk)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage  # recorded even on an error chunk: partial output is billed
        if chunk.get("error"):
            return self._fail(translate_stream_error(chunk["error"]))
        choices = chunk.get("choices")
        failed = _choice_error(choices)
        if failed is not None:
            return self._fail(translate_stream_error(failed))
        changed = False
        if usage is not None:
            # OpenAI sends usage in its own chunk, last, and only when asked: lift it out.
            del chunk["usage"]
            changed = True
            choices = [choice for choice in choices or () if not is_empty_choice(choice)]
            if not choices:
                return b""
            chunk["choices"] = choices
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    changed |= self._choices.rewrite(choice)
        if self._response_id is not None and chunk.get("id") != self._response_id:
            chunk["id"] = self._response_id
            changed = True
        self.events_out += 1
        return data_frame(orjson.dumps(chunk) if changed else payload)

    def _remember(self, chunk: dict[str, Any]) -> None:
        if self.generation_id is None:
            self.generation_id = _text(chunk.get("id"))
        if self.model is None:
            self.model = _text(chunk.get("model"))
        if self.provider is None:
            self.provider = _text(chunk.get("provider"))
        if not self._head or "usage" in chunk:
            # The first chunk names the response; the usage chunk may add late fields.
            for field in HEAD_FIELDS:
                value = chunk.get(field)
                if value is not None:
                    self._head[field] = value
            if self._response_id is not None:
                self._head["id"] = self._response_id

    def _fail(self, error: GatewayError) -> bytes:
        self.error = error.fields()
        self._closed = True
        self.events_out += 1
        return error_frame(error)


def _choice_error(choices: object) -> object | None:
    """An error reported on a choice (`finish_reason: "error"`) rather than at top level."""
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and (choice.get("error") or choice.get("finish_reason") == "error"):
            return choice.get("error") or {}
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
