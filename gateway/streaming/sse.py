"""Incremental Server-Sent Events parser: bytes in, complete events out, no I/O.

Follows the WHATWG event-stream rules that matter for a proxy: any of the three line endings,
multi-line `data:`, comments, and input split at arbitrary byte offsets. Fields other than
`data` (`event`, `id`, `retry`) carry nothing a chat-completions client uses, so they are
dropped.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

_LF = 0x0A
_CR = 0x0D
_COLON = 0x3A


class SSEEvent(NamedTuple):
    """One parsed event: a comment line (text after `:`) or a dispatched `data` payload."""

    kind: Literal["comment", "data"]
    payload: bytes


class SSEParser:
    """Turns a byte stream into `SSEEvent`s as soon as each one is complete."""

    __slots__ = ("_data", "_pending", "_skip_lf")

    def __init__(self) -> None:
        # Bytes of the current, not yet terminated line (kept as parts: a multi-megabyte image
        # chunk arriving in 64 KiB pieces must not be re-concatenated on every feed).
        self._pending: list[bytes] = []
        # `data` field values of the event being built; dispatched on a blank line.
        self._data: list[bytes] = []
        # A feed ended in `\r`: the line is already terminated, so a `\n` opening the next
        # feed is the second half of a `\r\n` and must not count as an empty line.
        self._skip_lf = False

    def feed(self, data: bytes) -> list[SSEEvent]:
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
        if not data:
            return []
        if b"\n" not in data and b"\r" not in data:
            self._pending.append(data)
            return []
        self._skip_lf = data[-1] == _CR
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending.clear()
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        events: list[SSEEvent] = []
        for line in lines:
            self._take_line(line, events)
        return events

    def flush(self) -> list[SSEEvent]:
        """At EOF: the last line and event even without their terminators."""
        events: list[SSEEvent] = []
        if self._pending:
            line = b"".join(self._pending)
            self._pending.clear()
            self._take_line(line, events)
        self._skip_lf = False
        self._dispatch(events)
        return events

    def _take_line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == _COLON:
            text = line[1:]
            events.append(SSEEvent("comment", text[1:] if text[:1] == b" " else text))
            return
        field, _, value = line.partition(b":")
        if field == b"data":
            self._data.append(value[1:] if value[:1] == b" " else value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if not self._data:
            return
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data.clear()
        events.append(SSEEvent("data", payload))
