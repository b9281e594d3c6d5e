"""Provider event streams -> OpenAI chat.completion.chunk dicts, incrementally.

Each `feed()` returns the chunks its bytes complete; a partial event waits in
the SSE splitter for the next call. Three kinds:

- `OpenAIStream`: the provider already streams OpenAI chunks; they pass through.
- `ParsedStream`: LiteLLM's parser of the provider's events (Anthropic,
  Mistral, Groq...) gives LiteLLM delta objects; this class frames them as
  OpenAI does (role on the first delta, finish_reason on a delta of its own,
  one usage chunk with `choices: []` at the end). `GeminiStream` parses
  Gemini's repeated usage figures once; `NDJSONStream` reads Ollama's
  newline-delimited JSON instead of SSE.
- `BufferedStream`: LiteLLM asks some providers for a buffered answer when
  the caller wanted a stream (Groq with `response_format`); it is replayed as
  chunks once complete.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from extproc.formats.sse import SSEParser
from extproc.translation import shapes
from extproc.translation.errors import TranslationError, stream_error

_DONE = b"[DONE]"


class StreamTranslator:
    """Turns one provider stream into OpenAI chat.completion.chunk dicts."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """The chunks completed by `chunk` (provider bytes, split anywhere)."""
        raise NotImplementedError

    def close(self) -> list[dict[str, Any]]:
        """The chunks due at the end of the stream; ends with the usage chunk when usage was reported."""
        raise NotImplementedError


class OpenAIStream(StreamTranslator):
    """A stream that is already OpenAI's: events pass through as parsed JSON."""

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEParser()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Parse each whole event."""
        return [event for _, data in self._sse.feed(chunk) if (event := _event(data)) is not None]

    def close(self) -> list[dict[str, Any]]:
        """A last event the provider did not terminate, if any."""
        event = _event(_tail_data(self._sse.remainder()))
        return [event] if event is not None else []


class ParsedStream(StreamTranslator):
    """A provider stream read by LiteLLM's parser for that provider, framed as OpenAI chunks."""

    __slots__ = (
        "_sse",
        "_parser",
        "_id",
        "_created",
        "_model",
        "_started",
        "_finished",
        "_pending",
        "_tool_choices",
        "_usage",
    )

    def __init__(self, parser: Any, model: str) -> None:
        self._sse: SSEParser | LineSplitter = SSEParser()
        self._parser = parser
        self._id: str | None = None
        self._created = 0
        self._model = model
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._pending: dict[int, str] = {}
        self._tool_choices: set[int] = set()
        self._usage: Any = None

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Translate each whole event."""
        out: list[dict[str, Any]] = []
        for _, data in self._sse.feed(chunk):
            self._translate(_event(data), out)
        return out

    def close(self) -> list[dict[str, Any]]:
        """Finish every open choice, then report usage."""
        out: list[dict[str, Any]] = []
        self._translate(_event(self._tail()), out)
        self._flush(out)
        for index in sorted(self._started | self._pending.keys()):
            if index not in self._finished:
                self._finish(index, self._pending.get(index, "stop"), out)
        if self._usage is not None:
            out.append({**self._head(), "choices": [], "usage": shapes.usage(self._usage)})
            self._usage = None
        return out

    def _tail(self) -> bytes | None:
        """The data of a last event the provider did not terminate."""
        return _tail_data(self._sse.remainder())

    def _before_parse(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hook: adjust a provider event before LiteLLM parses it."""
        return event

    def _flush(self, out: list[dict[str, Any]]) -> None:
        """Hook: translate what a subclass held back, at the end of the stream."""

    def _translate(self, event: dict[str, Any] | None, out: list[dict[str, Any]]) -> None:
        if event is None:
            return
        event = self._before_parse(event)
        try:
            parsed = self._parser.chunk_parser(event)
        except TranslationError:
            raise
        except Exception as exc:
            raise TranslationError(502, f"Unreadable provider stream event: {exc}", BROKEN) from exc
        if parsed is None:
            return
        if self._id is None:
            self._id = parsed.id or f"chatcmpl-{uuid.uuid4().hex}"
            self._created = parsed.created or int(time.time())
        if parsed.model:
            self._model = parsed.model
        usage = getattr(parsed, "usage", None)
        if usage is not None:
            self._usage = usage
        for choice in parsed.choices:
            index = choice.index or 0
            delta = shapes.delta(choice.delta)
            if delta:
                if index not in self._started:
                    self._started.add(index)
                    delta = {"role": "assistant", **delta}
                if "tool_calls" in delta or "function_call" in delta:
                    self._tool_choices.add(index)
                out.append(self._chunk(index, delta, None))
            reason = choice.finish_reason
            if reason and index not in self._finished:
                if self._is_final(parsed, index):
                    self._finish(index, reason, out)
                else:
                    self._pending[index] = reason

    def _is_final(self, parsed: Any, index: int) -> bool:
        """Whether a chunk's finish_reason for a choice is final; LiteLLM marks provisional ones in hidden params."""
        hidden = getattr(parsed, "_hidden_params", None) or {}
        return hidden.get("is_finished") is not False

    def _finish(self, index: int, reason: str, out: list[dict[str, Any]]) -> None:
        if reason == "stop" and index in self._tool_choices:
            reason = "tool_calls"
        self._finished.add(index)
        self._pending.pop(index, None)
        delta: dict[str, Any] = {} if index in self._started else {"role": "assistant", "content": ""}
        self._started.add(index)
        out.append(self._chunk(index, delta, reason))

    def _chunk(self, index: int, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {
            **self._head(),
            "choices": [{"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}],
        }

    def _head(self) -> dict[str, Any]:
        if self._id is None:
            self._id = f"chatcmpl-{uuid.uuid4().hex}"
            self._created = int(time.time())
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model}


class GeminiStream(ParsedStream):
    """A Gemini stream: finish reasons are final when Gemini says so, and usage is parsed once.

    LiteLLM's Gemini parser puts a provisional finish_reason on every chunk and
    marks none final; a candidate's `finishReason` in the event is what ends it.
    Gemini repeats `usageMetadata` on every event and the parser prices it each
    time (a third of its cost per event): it is read with the event that
    finishes the answer, or at the end of a stream cut short.
    """

    __slots__ = ("_held_usage", "_finishing")

    def __init__(self, parser: Any, model: str) -> None:
        super().__init__(parser, model)
        self._held_usage: Any = None
        self._finishing: set[int] = set()

    def _before_parse(self, event: dict[str, Any]) -> dict[str, Any]:
        candidates = event.get("candidates")
        candidates = candidates if isinstance(candidates, list) else []
        self._finishing = {
            c.get("index") or 0 for c in candidates if isinstance(c, dict) and c.get("finishReason")
        }
        # Usage is read from an event that finishes the answer or carries no answer at all.
        if "usageMetadata" in event and candidates and not self._finishing:
            self._held_usage = event["usageMetadata"]
            return {key: value for key, value in event.items() if key != "usageMetadata"}
        self._held_usage = None
        return event

    def _is_final(self, parsed: Any, index: int) -> bool:
        return index in self._finishing

    def _flush(self, out: list[dict[str, Any]]) -> None:
        if self._held_usage is not None:
            held, self._held_usage = self._held_usage, None
            self._translate({"usageMetadata": held}, out)


class NDJSONStream(ParsedStream):
    """A stream of newline-delimited JSON objects (Ollama's /api/chat) instead of SSE events."""

    __slots__ = ()

    def __init__(self, parser: Any, model: str) -> None:
        super().__init__(parser, model)
        self._sse = LineSplitter()

    def _tail(self) -> bytes | None:
        return self._sse.remainder() or None


class LineSplitter:
    """Splits a byte stream into whole lines; the same interface as `SSEParser`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, bytes | None]]:
        """Yield (line, line) for each line `chunk` completes."""
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            yield line, line

    def remainder(self) -> bytes:
        """Bytes after the last newline."""
        rest, self._buffer = self._buffer, b""
        return rest


class BufferedStream(StreamTranslator):
    """A buffered provider answer replayed as a stream once it is complete."""

    __slots__ = ("_body", "_translate")

    def __init__(self, translate: Callable[[bytes], dict[str, Any]]) -> None:
        self._body = bytearray()
        self._translate = translate

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Keep the bytes; nothing can be emitted before the answer is whole."""
        self._body += chunk
        return []

    def close(self) -> list[dict[str, Any]]:
        """The whole answer as chunks: one delta and one finish per choice, then usage."""
        return chunks_of(self._translate(bytes(self._body)))


def chunks_of(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat.completion dict as the chunks a stream of it would carry."""
    head = {
        "id": completion.get("id") or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": completion.get("created") or int(time.time()),
        "model": completion.get("model"),
    }
    out = []
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant"}
        if message.get("content") is not None:
            delta["content"] = message["content"]
        if message.get("reasoning_content"):
            delta["reasoning_content"] = message["reasoning_content"]
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        index = choice.get("index", 0)
        out.append({**head, "choices": [{"index": index, "delta": delta, "finish_reason": None, "logprobs": None}]})
        finish = choice.get("finish_reason") or "stop"
        out.append({**head, "choices": [{"index": index, "delta": {}, "finish_reason": finish, "logprobs": None}]})
    if completion.get("usage"):
        out.append({**head, "choices": [], "usage": completion["usage"]})
    return out


BROKEN = "bad_upstream_stream"


def read_event(data: bytes | None) -> dict[str, Any] | None:
    """The JSON object of an SSE data field; None for comments, keep-alives and [DONE];
    TranslationError (`bad_upstream_stream`) for data that is not a JSON object."""
    if data is None:
        return None
    data = data.strip()
    if not data or data == _DONE:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(502, "The provider sent a malformed stream event.", BROKEN) from exc
    if not isinstance(event, dict):
        raise TranslationError(502, "The provider sent a stream event that is not an object.", BROKEN)
    return event


def _event(data: bytes | None) -> dict[str, Any] | None:
    """`read_event`, and TranslationError for an error event the provider sent mid-stream."""
    event = read_event(data)
    failure = stream_error(event)
    if failure is not None:
        message, kind = failure
        raise TranslationError(502, message, code=kind)
    return event


def _tail_data(rest: bytes) -> bytes | None:
    """The data of an event the provider ended without a blank line."""
    if not rest.strip():
        return None
    lines = [line[5:].lstrip(b" ") for line in rest.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
