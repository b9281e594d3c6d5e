"""The LLM Proxy seed's client format: its error JSON (docs/seed-api.md); its answers are built by the
seed stage (`stages/seed_api.py`) on the way back, so the canonical answer reaches here already shaped."""

from __future__ import annotations

from typing import Any

import orjson

from extproc.formats import OpenAIStreamWriter, StreamWriter
from extproc.seed_api.errors import seed_error

# The paths whose every answer, errors included (a wrong key, a limit), is in the seed's shapes.
SEED_PATHS = ("/api/query", "/api/status", "/v1/gateway/query")


class SeedFormat:
    """`/api/query`, `/v1/gateway/query`, `/api/status`: the seed's error JSON; answers shaped upstream of here."""

    name = "seed"

    def error_body(self, status: int, message: str, *, code: str | None, param: str | None, type_: str | None) -> bytes:
        """`{"status": "error", "error": {type, code, message, field}, "request_id"}`."""
        return orjson.dumps(seed_error(status, message, code or "gateway_error", param))

    def answer(self, canonical: dict[str, Any], requested_model: str, client_request: Any) -> dict[str, Any]:
        """Already in the seed's shape (the seed stage rewrote it last on the way back)."""
        return canonical

    def stream_writer(self, requested_model: str, include_usage: bool, client_request: Any) -> StreamWriter:
        """The seed's API does not stream; a stream would be OpenAI's events."""
        return OpenAIStreamWriter(include_usage)


SEED = SeedFormat()
