"""Streamed answers rewritten chunk by chunk on their way to the client.

Envoy hands the response body over in arbitrary pieces. Each piece goes in,
the client's bytes for it come out at once: nothing waits for the end of the
stream. Two rewriters:

- `PassthroughStream`: provider and client both speak OpenAI, and no stage
  needs every chunk. Events pass unchanged except the usage chunk, which gets
  the gateway's figures (or is dropped when only the gateway asked for it).
- `TranslatedStream`: the provider's events become canonical chunks (the
  provider's translator, `translation/streams.py`), go through the stages,
  then become the client's events (its stream writer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from extproc.context import RequestContext
from extproc.endpoints import EndpointSpec
from extproc.formats import OPENAI, StreamWriter
from extproc.formats.sse import SSEParser
from extproc.stages.base import Stage
from extproc.translation import ProviderTranslator, TranslationError
from extproc.translation.errors import stream_error
from extproc.translation.streams import BROKEN, OpenAIStream, read_event

log = logging.getLogger(__name__)

# Called with every canonical chunk before it is written; may change it.
ChunkHook = Callable[[dict[str, Any]], None]
# Called at the end of a stream: canonical chunks to add before it closes.
ClosingHook = Callable[[], list[dict[str, Any]]]
OPENAI_ERROR_EVENT = b"data: " + orjson.dumps(
    {"error": {"message": "The model provider failed mid-stream: it sent a malformed stream event.",
               "type": BROKEN, "param": None, "code": None}}
) + b"\n\n"  # fmt: skip


def open_stream(
    ctx: RequestContext, spec: EndpointSpec, translator: ProviderTranslator | None, back: Sequence[Stage]
) -> PassthroughStream | TranslatedStream:
    """The rewriter of one streamed answer, whose chunks go through the stages on their way back."""

    def on_chunk(chunk: dict[str, Any]) -> None:
        for stage in back:
            stage.on_chunk(ctx, chunk)

    native = translator is None or translator.openai_compatible
    if native and spec.client_format is OPENAI and not ctx.stream_inspected:
        return PassthroughStream(on_chunk, ctx.client_wants_stream_usage)
    source = OpenAIStream() if native else translator.chat_stream(ctx.body or {})  # type: ignore[union-attr]
    writer = spec.client_format.stream_writer(ctx.requested_model or "", ctx.client_wants_stream_usage, ctx.client_body)
    return TranslatedStream(source, writer, on_chunk)


def stream_piece(
    ctx: RequestContext, stream: PassthroughStream | TranslatedStream, piece: bytes, end: bool, back: Sequence[Stage]
) -> bytes | None:
    """The client's bytes for one piece (None: the piece itself); notes the first output and a failure."""
    out = stream.feed(piece, end, lambda: [chunk for stage in back for chunk in stage.closing_chunks(ctx)])
    if ctx.first_output_at is None and (piece if out is None else out):
        ctx.first_output_at = time.monotonic()
    if stream.failure is not None and ctx.error is None:
        ctx.error = stream.failure
        ctx.decisions.append("stream_failed")
        log.warning("request %s: the provider's stream failed mid-way: %s", ctx.request_id, stream.failure)
    return out


class ChunkSource(Protocol):
    """Provider stream bytes in, canonical chunks out (`translation.StreamTranslator`)."""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """The chunks complete so far."""
        ...

    def close(self) -> list[dict[str, Any]]:
        """The chunks left at the end of the stream."""
        ...


class PassthroughStream:
    """OpenAI to OpenAI: forward the bytes, touching only the usage chunk."""

    def __init__(self, hook: ChunkHook, client_wants_usage: bool) -> None:
        self._sse = SSEParser()
        self._hook = hook
        self._client_wants_usage = client_wants_usage
        # The provider's own error event, if it sent one mid-stream (passed on as it is).
        self.failure: str | None = None

    def feed(self, chunk: bytes, end_of_stream: bool, on_end: ClosingHook | None = None) -> bytes | None:
        """The client's bytes for this piece, or None when they are the piece itself. At the end,
        `on_end` runs (its chunks are not written: the provider's own stream is what the client gets)."""
        out = bytearray()
        changed = False
        if self.failure is not None and self.failure.startswith(BROKEN):
            return b""  # the stream was ended with an error event
        for raw, data in self._sse.feed(chunk):
            try:
                payload = read_event(data)
            except TranslationError:
                # A broken event would make the client's SDK fail on a parse error: end the
                # stream with a well-formed error event instead, and drop the rest.
                self.failure = f"{BROKEN}: the provider sent a malformed stream event"
                out += OPENAI_ERROR_EVENT
                return bytes(out)
            if payload is not None and data is not None and b'"error"' in data and (failure := stream_error(payload)):
                self.failure = f"{failure[1]}: {failure[0]}"
            if payload is not None and data is not None and b'"usage"' in data:
                self._hook(payload)
                if payload.get("choices") == [] and payload.get("usage") is not None:
                    changed = True
                    if self._client_wants_usage:
                        out += b"data: " + orjson.dumps(payload) + b"\n\n"
                    continue
            out += raw
        if end_of_stream:
            out += self._sse.remainder()
            if on_end is not None:
                on_end()
        result = bytes(out)
        # Equal bytes: Envoy forwards its own piece (a partial event kept back makes them differ).
        return None if not changed and result == chunk else result


class TranslatedStream:
    """Provider events to canonical chunks to the client's events."""

    def __init__(self, source: ChunkSource, writer: StreamWriter, hook: ChunkHook) -> None:
        self._source = source
        self._writer = writer
        self._hook = hook
        # Why the stream ended in an error event, for the log line; None while it is well.
        self.failure: str | None = None

    def feed(self, chunk: bytes, end_of_stream: bool, on_end: ClosingHook) -> bytes:
        """The client's bytes for this piece; at the end, `on_end` may add chunks (an estimated usage)."""
        if self.failure is not None:
            return b""
        out = bytearray()
        try:
            for canonical in self._source.feed(chunk):
                out += self._write(canonical)
            if end_of_stream:
                for canonical in self._source.close():
                    out += self._write(canonical)
                for canonical in on_end():
                    out += self._write(canonical)
                out += self._writer.close()
        except TranslationError as error:
            # The provider failed mid-stream (its own error event, or a broken one): the client
            # gets a well-formed error event in its format, never a clean-looking end.
            kind = error.code or "api_error"
            self.failure = f"{kind}: {error.message}"
            out += self._writer.error(f"The model provider failed mid-stream: {error.message}", kind)
        except Exception:
            log.exception("a provider stream could not be translated")
            self.failure = "untranslatable_stream"
            out += self._writer.error("The model provider sent a stream the gateway could not translate.", "api_error")
        return bytes(out)

    def _write(self, canonical: dict[str, Any]) -> bytes:
        self._hook(canonical)
        return self._writer.feed(canonical)
