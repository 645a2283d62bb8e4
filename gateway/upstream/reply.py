"""A whole upstream JSON answer as the readers see it: status, body and headers, from httpx or straight from aiohttp.

The hot path reads JSON answers with aiohttp directly (no httpx Request/Response objects per call); cold paths and
tests on an `httpx.AsyncClient` hand over an `httpx.Response`, which has the same three attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class UpstreamReply(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive in both implementations


@dataclass(frozen=True, slots=True)
class JsonReply:
    status_code: int
    content: bytes
    headers: Mapping[str, str]  # aiohttp's case-insensitive CIMultiDictProxy
