"""Recording of received requests, with credentials replaced by fingerprints.

Tests read them back (GET /_fake/requests) to check what the gateway sent
upstream, and compare key fingerprints to see which key was used.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# Headers whose values are credentials (lower case).
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization"})
# Query parameters that carry credentials (Gemini's `?key=`).
SECRET_PARAMS = frozenset({"key"})
# Bodies larger than this are recorded by size only.
MAX_RECORDED_BODY = 256 * 1024


@lru_cache(maxsize=256)
def fingerprint(secret: str) -> str:
    """fingerprint stands for a secret in recordings: "sha256:" and 12 hex digits of its hash."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact(name: str, value: str) -> str:
    """redact is a header's value as recorded: credentials become fingerprints, a scheme is kept."""
    if name not in SECRET_HEADERS:
        return value
    scheme, space, token = value.partition(" ")
    if space and scheme.lower() in ("bearer", "basic"):
        return f"{scheme} {fingerprint(token.strip())}"
    return fingerprint(value)


class Recorder:
    """Recorder keeps the last `limit` requests."""

    __slots__ = ("_entries",)

    def __init__(self, limit: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(limit, 0))

    def record(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], raw: bytes, body: Any
    ) -> None:
        """record keeps one request."""
        if self._entries.maxlen == 0:
            return
        self._entries.append(
            {
                "time": time.time(),
                "method": method,
                "path": path,
                "query": {k: fingerprint(v) if k in SECRET_PARAMS else v for k, v in query.items()},
                "headers": {k.lower(): redact(k.lower(), v) for k, v in headers.items()},
                "body": body if len(raw) <= MAX_RECORDED_BODY else None,
                "body_bytes": len(raw),
            }
        )

    def entries(self) -> list[dict[str, Any]]:
        """entries are the recorded requests, oldest first."""
        return list(self._entries)

    def clear(self) -> None:
        """clear forgets every recorded request."""
        self._entries.clear()
