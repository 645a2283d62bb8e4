"""However the network cuts the upstream bytes, the client gets the same bytes."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.streaming.normalizer import ChatStreamNormalizer
from tests.streaming.upstream import UNIFIED_ERROR, event, text_stream, tool_call_fragments, tool_call_stream

OPTIONS: dict[str, Any] = {"include_usage": True}


def crlf(stream: bytes) -> bytes:
    return stream.replace(b"\n", b"\r\n")


STREAMS = {
    "text": text_stream("empty_delta"),
    "tools_crlf": crlf(tool_call_stream("merged")),
    "error": tool_call_fragments() + event(UNIFIED_ERROR),
    "truncated": text_stream("empty_choices")[:-40],
}


def whole(stream: bytes) -> bytes:
    normalizer = ChatStreamNormalizer(**OPTIONS)
    return normalizer.feed(stream) + normalizer.finish()


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_two_way_split(name: str) -> None:
    stream = STREAMS[name]
    expected = whole(stream)
    assert expected
    for offset in range(len(stream) + 1):
        normalizer = ChatStreamNormalizer(**OPTIONS)
        output = normalizer.feed(stream[:offset]) + normalizer.feed(stream[offset:]) + normalizer.finish()
        assert output == expected, offset


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_byte_by_byte(name: str) -> None:
    stream = STREAMS[name]
    normalizer = ChatStreamNormalizer(**OPTIONS)
    output = b"".join(normalizer.feed(stream[index : index + 1]) for index in range(len(stream)))
    assert output + normalizer.finish() == whole(stream)
