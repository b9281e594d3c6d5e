"""An incremental Server-Sent Events splitter for streamed response bodies.

Envoy hands the body over in arbitrary chunks: an event may be split across
chunks, or one chunk may hold many events. `SSEParser.feed` returns only whole
events, keeping any partial tail for the next chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# An event ends at a blank line; providers use \n\n or \r\n\r\n.
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class SSEParser:
    """Splits a byte stream into whole SSE events."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, bytes | None]]:
        """Yield (raw event bytes including its terminator, joined data lines or None)."""
        buffer = self._buffer + chunk if self._buffer else chunk
        start = 0
        for match in _EVENT_END.finditer(buffer):
            raw = buffer[start : match.end()]
            start = match.end()
            # splitlines() ends lines at \r\n, \n and a lone \r, as SSE does.
            lines = [_data_value(line) for line in raw.splitlines() if line.startswith(b"data:")]
            yield raw, b"\n".join(lines) if lines else None
        self._buffer = buffer[start:]

    def remainder(self) -> bytes:
        """Bytes received after the last complete event (normally empty)."""
        rest, self._buffer = self._buffer, b""
        return rest


def _data_value(line: bytes) -> bytes:
    value = line[5:]
    return value[1:] if value.startswith(b" ") else value
