"""Watch an OpenRouter Responses API stream as it is relayed byte for byte: usage, errors, the generation id.

OpenRouter's Responses events already have OpenAI's shape, so nothing is rewritten; the tracker only reads what
metering needs and makes sure a stream that ends without a terminal event still ends with an `error` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import UpstreamError
from gateway.metering.capture import ChoiceOutput
from gateway.streaming.frames import TRUNCATED_CODE, TRUNCATED_MESSAGE, responses_error_frame
from gateway.streaming.sse import SSEParser

_TERMINAL_WITH_USAGE = ("response.completed", "response.incomplete")


def chat_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Responses usage in the chat shape the ledger reads (input/output tokens become prompt/completion)."""
    if not isinstance(usage, dict):
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return {
        "prompt_tokens": usage.get("input_tokens") or 0,
        "completion_tokens": usage.get("output_tokens") or 0,
        "total_tokens": usage.get("total_tokens") or 0,
        "cost": usage.get("cost"),
        "prompt_tokens_details": {"cached_tokens": input_details.get("cached_tokens") or 0},
        "completion_tokens_details": {"reasoning_tokens": output_details.get("reasoning_tokens") or 0},
    }


class ResponsesStreamTracker:
    """A `gateway.streaming.relay.StreamTracker` for Responses streams: relays bytes as they came, reads metering."""

    def __init__(self, *, capture_output: bool = False) -> None:
        self._parser = SSEParser()
        self._texts: list[str] | None = [] if capture_output else None
        self._status: str | None = None
        self.system_fingerprint: str | None = None  # not part of Responses answers
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.generation_id: str | None = None
        self.model: str | None = None
        self.provider: str | None = None  # Responses events do not name the provider
        self.done = False
        self.completion_chars = 0
        self._sequence = -1

    def choice_output(self) -> ChoiceOutput:
        """The response's last status as its finish reason, and its text when output capture is on."""
        return ChoiceOutput(self._status, "".join(self._texts) if self._texts is not None else None)

    def feed(self, data: bytes) -> bytes:
        """The bytes to relay (unchanged); state is updated from every complete event in them."""
        for event in self._parser.feed(data):
            if event.kind == "data":
                self._observe(event.payload)
        return data

    def finish(self) -> bytes:
        """Upstream EOF: a stream that never reached a terminal event ends with one `error` event."""
        for event in self._parser.flush():
            if event.kind == "data":
                self._observe(event.payload)
        if self.done:
            return b""
        self.done = True
        return self.abort(TRUNCATED_MESSAGE, TRUNCATED_CODE)

    def abort(self, message: str, code: str = "upstream_error") -> bytes:
        """A gateway-side failure mid-stream (cut, stalled, deadline): one final `error` event."""
        error = UpstreamError(message, code=code)
        self.error = error.fields()
        self.done = True
        return responses_error_frame(error, self._sequence + 1)

    def _observe(self, payload: bytes) -> None:
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if isinstance(event.get("sequence_number"), int):
            self._sequence = event["sequence_number"]
        if kind == "response.output_text.delta":
            delta = str(event.get("delta") or "")
            self.completion_chars += len(delta)
            if self._texts is not None:
                self._texts.append(delta)
            return
        response = event.get("response") if isinstance(event.get("response"), dict) else {}
        if isinstance(response.get("status"), str):
            self._status = response["status"]
        if kind == "response.created":
            self.generation_id = response.get("id")
            self.model = response.get("model")
        elif kind in _TERMINAL_WITH_USAGE:
            self.usage = chat_usage(response.get("usage"))
            self.model = response.get("model") or self.model
            self.done = True
        elif kind == "response.failed":
            failure = response.get("error") if isinstance(response.get("error"), dict) else {}
            self.error = {"type": "api_error", "code": failure.get("code") or "upstream_error",
                          "message": failure.get("message") or "The response failed"}
            self.done = True
        elif kind == "error":
            self.error = {"type": "api_error", "code": event.get("code"), "message": event.get("message")}
            self.done = True
