"""Close an n>1 response whose choices come from n upstream streams, one normaliser each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.errors import GatewayError
from gateway.streaming.frames import DONE_FRAME, error_frame, truncation_error
from gateway.streaming.normalizer import ChatStreamNormalizer


class StreamMerger:
    """Writes the single end of a fanned-out stream: summed usage (if asked), then `[DONE]`.

    The normalisers must be built with `choice_index=i, response_id=<shared>,
    emit_terminal=False, include_usage=False`; the caller writes what each one returns and
    should stop feeding the others once one reports `error` (its error event was the end).
    After `finish`, `usage` holds the summed usage and `error` the stream's error, if any.
    """

    def __init__(self, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._finished = False
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None

    def finish(self, normalizers: Sequence[ChatStreamNormalizer]) -> bytes:
        """All upstreams ended: the bytes that close the client's stream (once)."""
        if self._finished:
            return b""
        self._finished = True
        usages = [normalizer.usage for normalizer in normalizers if normalizer.usage is not None]
        self.usage = sum_usage(usages) if usages else None
        earlier = next((n.error for n in normalizers if n.error is not None), None)
        if earlier is not None:
            self.error = earlier  # its event already went out, and it was the last one
            return b""
        out = []
        for normalizer in normalizers:
            out.append(normalizer.finish())  # flushes a last unterminated event, if any
            if normalizer.error is not None:
                self.error = normalizer.error
                return b"".join(out)
        if any(normalizer.truncated for normalizer in normalizers):
            out.append(self._fail(truncation_error()))
            return b"".join(out)
        if self._include_usage and self.usage is not None and normalizers:
            out.append(normalizers[0].render_usage(self.usage))
        out.append(DONE_FRAME)
        return b"".join(out)

    def _fail(self, error: GatewayError) -> bytes:
        self.error = error.fields()
        return error_frame(error)


def sum_usage(usages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add up usage objects field by field, nested `*_details` included.

    Numbers add (a null `upstream_inference_cost` next to numbers counts as 0, all-null stays
    null); booleans such as `is_byok` are true if any is; other values keep the first seen.
    """
    total: dict[str, Any] = {}
    for usage in usages:
        for key, value in usage.items():
            total[key] = _add(total[key], value) if key in total else _copy(value)
    return total


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left) or bool(right)
    if _is_number(left) and _is_number(right):
        return left + right
    if left is None:
        return _copy(right)
    if right is None:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        for key, value in right.items():
            left[key] = _add(left[key], value) if key in left else _copy(value)
        return left
    return left


def _copy(value: Any) -> Any:
    # Nested dicts are summed in place, so never alias the caller's objects.
    return sum_usage([value]) if isinstance(value, dict) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
