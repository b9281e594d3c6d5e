"""Stream rewriters: OpenAI passthrough and translated streams, fed in awkward pieces."""

from __future__ import annotations

from typing import Any

import orjson

from extproc.formats import OpenAIStreamWriter
from extproc.router.streaming import PassthroughStream, TranslatedStream
from extproc.translation.streams import OpenAIStream


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _chunk(text: str) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


USAGE = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
STREAM = _event(_chunk("Hel")) + _event(_chunk("lo")) + _event(USAGE) + b"data: [DONE]\n\n"


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _run_passthrough(size: int, wants_usage: bool) -> tuple[bytes, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def hook(chunk: dict[str, Any]) -> None:
        seen.append(chunk)
        chunk["x_gateway"] = {"cost_usd": 0.5}

    stream = PassthroughStream(hook, client_wants_usage=wants_usage)
    pieces = _pieces(STREAM, size)
    out = b""
    for index, piece in enumerate(pieces):
        result = stream.feed(piece, end_of_stream=index == len(pieces) - 1)
        out += piece if result is None else result
    return out, seen


def test_passthrough_strips_the_usage_chunk_the_client_did_not_ask_for() -> None:
    for size in (1, 7, 50, len(STREAM)):
        out, seen = _run_passthrough(size, wants_usage=False)
        assert out == _event(_chunk("Hel")) + _event(_chunk("lo")) + b"data: [DONE]\n\n", size
        assert [c.get("usage") for c in seen] == [USAGE["usage"]]


def test_passthrough_adds_the_gateway_figures_to_a_wanted_usage_chunk() -> None:
    for size in (1, 13, len(STREAM)):
        out, _ = _run_passthrough(size, wants_usage=True)
        events = [e for e in out.split(b"\n\n") if e]
        assert events[-1] == b"data: [DONE]"
        usage_chunk = orjson.loads(events[-2].removeprefix(b"data: "))
        assert usage_chunk["usage"] == USAGE["usage"] and usage_chunk["x_gateway"] == {"cost_usd": 0.5}


def test_passthrough_leaves_pieces_without_usage_untouched() -> None:
    stream = PassthroughStream(lambda chunk: None, client_wants_usage=False)
    assert stream.feed(_event(_chunk("a")), end_of_stream=False) is None


def test_translated_stream_from_openai_chunks_writes_every_event_and_ends_with_done() -> None:
    hooked: list[dict[str, Any]] = []
    stream = TranslatedStream(OpenAIStream(), OpenAIStreamWriter(include_usage=True), hooked.append)
    pieces = _pieces(STREAM, 5)
    out = b"".join(stream.feed(p, i == len(pieces) - 1, list) for i, p in enumerate(pieces))
    assert out == STREAM
    assert len(hooked) == 3


def test_translated_stream_adds_closing_chunks_before_the_end() -> None:
    stream = TranslatedStream(OpenAIStream(), OpenAIStreamWriter(include_usage=True), lambda c: None)
    body = _event(_chunk("x")) + b"data: [DONE]\n\n"
    out = stream.feed(body, True, lambda: [USAGE])
    assert out == _event(_chunk("x")) + _event(USAGE) + b"data: [DONE]\n\n"


class _Broken:
    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        raise ValueError("cannot parse")

    def close(self) -> list[dict[str, Any]]:
        return []


def test_a_stream_that_cannot_be_translated_ends_with_an_error_event() -> None:
    stream = TranslatedStream(_Broken(), OpenAIStreamWriter(include_usage=False), lambda c: None)
    out = stream.feed(b"garbage", False, list)
    error = orjson.loads(out.removeprefix(b"data: "))
    assert error["error"]["type"] == "api_error" and "could not translate" in error["error"]["message"]
    assert stream.feed(b"more", True, list) == b""


def test_openai_chunks_reads_a_last_event_without_blank_line() -> None:
    reader = OpenAIStream()
    assert reader.feed(_event(_chunk("a")) + b"data: " + orjson.dumps(USAGE)) == [_chunk("a")]
    assert reader.close() == [USAGE]


def test_passthrough_ends_a_stream_with_a_broken_event_in_an_error_event() -> None:
    stream = PassthroughStream(lambda chunk: None, client_wants_usage=False)
    first = _event(_chunk("a"))
    assert stream.feed(first, end_of_stream=False) is None
    out = stream.feed(b'data: {"id": "c1", "choi\n\n' + _event(_chunk("b")), end_of_stream=False)
    assert out is not None
    [event] = [e for e in out.split(b"\n\n") if e]
    error = orjson.loads(event.removeprefix(b"data: "))["error"]
    assert "malformed" in error["message"] and stream.failure is not None
    assert stream.feed(_event(_chunk("c")) + b"data: [DONE]\n\n", end_of_stream=True) == b""  # nothing after it
