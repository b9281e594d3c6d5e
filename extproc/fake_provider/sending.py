"""Writing answers: buffered JSON bodies and event streams, with the request's faults applied.

Stream events are written and flushed one by one, so a client sees each chunk as
it is sent. A reset aborts the TCP connection with an RST (SO_LINGER 0) rather
than closing it, which is what a crashed or cut-off upstream looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any, NoReturn

import orjson
from aiohttp import web

from extproc.fake_provider.faults import NO_FAULTS, Faults

JSON = "application/json"
SSE = "text/event-stream"


class ConnectionAborted(Exception):
    """ConnectionAborted is raised once the connection is gone (reset by a fault, or closed by the client)."""

    def __init__(self, response: web.StreamResponse | None = None) -> None:
        super().__init__("connection aborted")
        self.response = response


def json_response(
    request: web.Request,
    faults: Faults,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """json_response answers 200 with `payload` as JSON; a reset fault aborts, a malformed one truncates."""
    if faults.reset_after_chunks is not None:
        abort(request)
    body = orjson.dumps(payload)
    if faults.malformed:
        body = body[: max(len(body) * 2 // 3, 1)]
    return web.Response(body=body, content_type=JSON, headers=headers)


class EventStream:
    """EventStream writes a streamed answer event by event, honouring ttft, chunk delay, reset and malformed."""

    __slots__ = ("_faults", "_request", "_response", "_sent")

    def __init__(
        self, request: web.Request, faults: Faults, content_type: str = SSE, headers: dict[str, str] | None = None
    ) -> None:
        self._request = request
        self._faults = faults
        self._sent = 0
        self._response = web.StreamResponse(headers=headers)
        self._response.content_type = content_type
        if content_type == SSE:
            self._response.headers["cache-control"] = "no-cache"

    async def start(self) -> None:
        """start sends the status line and headers."""
        try:
            await self._response.prepare(self._request)
        except ConnectionResetError:
            raise ConnectionAborted(self._response) from None

    async def send(self, event: bytes) -> None:
        """send writes one event and flushes it; raises ConnectionAborted if a reset is due."""
        faults = self._faults
        if faults is not NO_FAULTS:
            delay = faults.ttft_ms if self._sent == 0 else faults.chunk_delay_ms
            if delay > 0:
                await asyncio.sleep(delay / 1000)
            if faults.reset_after_chunks is not None and self._sent >= faults.reset_after_chunks:
                abort(self._request, self._response)
            if faults.error_after_chunks is not None and self._sent >= faults.error_after_chunks:
                await self._end_with_error()
            if faults.malformed and self._sent == 1:
                event = _break(event)
        try:
            await self._response.write(event)
        except ConnectionResetError:  # the client went away mid-stream
            raise ConnectionAborted(self._response) from None
        self._sent += 1

    async def _end_with_error(self) -> NoReturn:
        """Write the wire's in-stream error event and end the stream cleanly (the handler stops here)."""
        with contextlib.suppress(ConnectionResetError):
            await self._response.write(stream_error_event(self._request.path))
            await self._response.write_eof()
        raise ConnectionAborted(self._response)

    async def finish(self) -> web.StreamResponse:
        """finish ends the body (a due reset still fires) and returns the response for aiohttp."""
        faults = self._faults
        if faults.reset_after_chunks is not None and self._sent >= faults.reset_after_chunks:
            abort(self._request, self._response)
        try:
            await self._response.write_eof()
        except ConnectionResetError:
            raise ConnectionAborted(self._response) from None
        return self._response


def stream_error_event(path: str) -> bytes:
    """The error event a provider sends inside a stream that fails after it started, in the path's wire."""
    if path.endswith("/messages"):  # Anthropic
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return b"event: error\ndata: " + orjson.dumps(error) + b"\n\n"
    if "/models/" in path:  # Gemini
        error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
        return b"data: " + orjson.dumps(error) + b"\n\n"
    error = {"error": {"message": "The server had an error while processing your request.", "type": "server_error",
                       "param": None, "code": None}}  # fmt: skip
    return b"data: " + orjson.dumps(error) + b"\n\n"


def abort(request: web.Request, response: web.StreamResponse | None = None) -> NoReturn:
    """abort resets the client's TCP connection at once and raises ConnectionAborted."""
    transport = request.transport
    if transport is None:
        raise ConnectionAborted(response)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    raise ConnectionAborted(response)


def _break(event: bytes) -> bytes:
    """The event with the tail of its JSON cut off, its SSE terminator kept."""
    for terminator in (b"\r\n\r\n", b"\n\n"):
        if event.endswith(terminator):
            body = event[: -len(terminator)]
            return body[: len(body) - max(len(body) // 3, 2)] + terminator
    return event[: len(event) - max(len(event) // 3, 2)]
