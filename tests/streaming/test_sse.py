from __future__ import annotations

import pytest

from gateway.streaming.sse import SSEEvent, SSEParser


def data(payload: bytes) -> SSEEvent:
    return SSEEvent("data", payload)


def comment(text: bytes) -> SSEEvent:
    return SSEEvent("comment", text)


def parse_whole(stream: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    return parser.feed(stream) + parser.flush()


def test_data_events_are_dispatched_on_blank_lines() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"a":1}\n\ndata: {"b":2}\n') == [data(b'{"a":1}')]
    assert parser.feed(b"\n") == [data(b'{"b":2}')]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    stream = b": ping" + newline + newline + b"data: one" + newline + newline + b"data: two" + newline * 2
    assert parse_whole(stream) == [comment(b"ping"), data(b"one"), data(b"two")]


def test_mixed_line_endings_in_one_stream() -> None:
    stream = b"data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r\n\n"
    assert parse_whole(stream) == [data(b"a"), data(b"b"), data(b"c"), data(b"d")]


def test_multi_line_data_is_joined_with_newline() -> None:
    assert parse_whole(b"data: {\ndata:  \"a\": 1\ndata: }\n\n") == [data(b'{\n "a": 1\n}')]


def test_data_without_space_and_other_fields_ignored() -> None:
    stream = b"event: message\nid: 7\nretry: 1000\ndata:{\"x\":1}\nunknown: y\n\n"
    assert parse_whole(stream) == [data(b'{"x":1}')]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert parse_whole(b"event: ping\n\n\n\ndata: x\n\n") == [data(b"x")]


def test_comment_strips_exactly_one_space() -> None:
    assert parse_whole(b": OPENROUTER PROCESSING\n\n:  two\n\n:none\n\n") == [
        comment(b"OPENROUTER PROCESSING"),
        comment(b" two"),
        comment(b"none"),
    ]


def test_comment_is_returned_as_soon_as_its_line_ends() -> None:
    parser = SSEParser()
    assert parser.feed(b": OPENROUTER PROCESSING\n") == [comment(b"OPENROUTER PROCESSING")]
    assert parser.feed(b"\n") == []


def test_crlf_split_across_feeds_is_one_line_break() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    # The \n completing "\r\n" must not be taken as the blank line that ends the event.
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: b\r") == []
    assert parser.feed(b"\n\r") == [data(b"a\nb")]


def test_flush_returns_an_unterminated_last_event() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: one\n\ndata: [DONE]") == [data(b"one")]
    assert parser.flush() == [data(b"[DONE]")]
    assert parser.flush() == []


def test_flush_with_nothing_pending() -> None:
    parser = SSEParser()
    parser.feed(b"data: one\n\n")
    assert parser.flush() == []


STREAM = (
    b": OPENROUTER PROCESSING\r\n\r\n"
    b'data: {"choices":[{"delta":{"content":"h\\u00e9"}}]}\n\n'
    b"data: line1\rdata: line2\r\r"
    b": keep-alive\n\n"
    b'data:{"x":"\xc3\xa9"}\r\n\r\n'
    b"data: [DONE]\n\n"
)


def test_every_two_way_split_gives_the_same_events() -> None:
    expected = parse_whole(STREAM)
    assert len(expected) == 6
    for offset in range(len(STREAM) + 1):
        parser = SSEParser()
        events = parser.feed(STREAM[:offset]) + parser.feed(STREAM[offset:]) + parser.flush()
        assert events == expected, offset


def test_byte_by_byte_gives_the_same_events() -> None:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for index in range(len(STREAM)):
        events += parser.feed(STREAM[index : index + 1])
    assert events + parser.flush() == parse_whole(STREAM)


def test_long_line_in_many_pieces() -> None:
    payload = b"x" * 100_000
    parser = SSEParser()
    events: list[SSEEvent] = []
    stream = b"data: " + payload + b"\n\n"
    for start in range(0, len(stream), 4096):
        events += parser.feed(stream[start : start + 4096])
    assert events == [data(payload)]
