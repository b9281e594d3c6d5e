"""The SSE splitter: whole events out, whatever chunks Envoy hands over."""

from __future__ import annotations

import pytest

from extproc.formats.sse import SSEParser

STREAM = (
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":3}}\n\n'
    b"data: [DONE]\n\n"
)
DATA = [b'{"choices":[{"delta":{"content":"Hel"}}]}', b'{"choices":[],"usage":{"prompt_tokens":3}}', b"[DONE]"]


def _feed_all(*chunks: bytes) -> list[tuple[bytes, bytes | None]]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    assert parser.remainder() == b""
    return events


def test_one_chunk_gives_every_event_with_its_terminator() -> None:
    events = _feed_all(STREAM)
    assert [data for _, data in events] == DATA
    assert b"".join(raw for raw, _ in events) == STREAM
    assert all(raw.endswith(b"\n\n") for raw, _ in events)


@pytest.mark.parametrize("offset", range(1, len(STREAM)))
def test_a_split_at_any_byte_gives_the_same_events(offset: int) -> None:
    assert _feed_all(STREAM[:offset], STREAM[offset:]) == _feed_all(STREAM)


def test_byte_by_byte_gives_the_same_events() -> None:
    assert _feed_all(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == _feed_all(STREAM)


def test_partial_event_waits_for_its_terminator() -> None:
    parser = SSEParser()
    assert list(parser.feed(b"data: one\n")) == []
    assert list(parser.feed(b"\ndata: tw")) == [(b"data: one\n\n", b"one")]
    assert list(parser.feed(b"o\n\n")) == [(b"data: two\n\n", b"two")]


CRLF_STREAM = b"data: a\r\n\r\ndata: b\r\n\r\n"


@pytest.mark.parametrize("offset", range(len(CRLF_STREAM) + 1))
def test_crlf_terminators_at_any_split(offset: int) -> None:
    events = _feed_all(CRLF_STREAM[:offset], CRLF_STREAM[offset:])
    assert events == [(b"data: a\r\n\r\n", b"a"), (b"data: b\r\n\r\n", b"b")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    [(_, data)] = _feed_all(b'data: {"a":\ndata: 1}\n\n')
    assert data == b'{"a":\n1}'


def test_multi_line_data_with_crlf_lines_is_joined_without_cr() -> None:
    [(_, data)] = _feed_all(b"data: x\r\ndata: y\r\n\r\n")
    assert data == b"x\ny"


def test_other_fields_are_not_data_and_the_space_after_the_colon_is_optional() -> None:
    [(_, data)] = _feed_all(b"event: message\nid: 7\ndata:a\ndata:  b\n\n")
    assert data == b"a\n b"  # only the first space is the separator


def test_events_without_data_report_none_but_keep_their_bytes() -> None:
    assert _feed_all(b": keep-alive\n\ndata: x\n\n") == [(b": keep-alive\n\n", None), (b"data: x\n\n", b"x")]


def test_remainder_returns_an_unterminated_tail_once() -> None:
    parser = SSEParser()
    assert [d for _, d in parser.feed(b"data: a\n\ndata: trunc")] == [b"a"]
    assert parser.remainder() == b"data: trunc"
    assert parser.remainder() == b""
    assert list(parser.feed(b"\n\n")) == [(b"\n\n", None)]  # the tail is not fed again


def test_cr_only_line_endings_split_data_lines() -> None:
    [(_, data)] = _feed_all(b"data: a\rdata: b\r\r")
    assert data == b"a\nb"
