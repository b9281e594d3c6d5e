"""The seed API's error JSON: `{"status": "error", "error": {type, code, message, field}, "request_id"}`.

Every failure on the seed's paths answers in this shape, whether the seed layer found it
(a wrong type in the body: 400) or the gateway's pipeline did (a wrong key: 401, a limit:
429...): `from_openai_error` re-shapes the gateway's own OpenAI error JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extproc.errors import MAX_MESSAGE_CHARS, clipped

# The `type` of each status, as the gateway's OpenAI errors name them.
_TYPE_BY_STATUS = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    413: "invalid_request",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}


def seed_error(
    status: int, message: str, code: str, field: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """The seed's error JSON for one failure."""
    kind = _TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request")
    return {
        "status": "error",
        "error": {"type": kind, "code": code, "message": clipped(message, MAX_MESSAGE_CHARS), "field": field},
        "request_id": request_id,
    }


def from_openai_error(status: int, payload: Any, request_id: str | None = None) -> dict[str, Any]:
    """The gateway's OpenAI error JSON (`{"error": {message, code, param}}`) in the seed's shape."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return seed_error(status, "The gateway could not answer this request.", "gateway_error", request_id=request_id)
    message = error.get("message") if isinstance(error.get("message"), str) else "The gateway refused this request."
    code = error.get("code") if isinstance(error.get("code"), str) else "gateway_error"
    param = error.get("param") if isinstance(error.get("param"), str) else None
    return seed_error(status, message, code, param, request_id)


@dataclass(slots=True)
class SeedApiError(Exception):
    """A request the seed layer refuses, answered in the seed's error JSON."""

    status: int
    message: str
    code: str
    field: str | None = None
    request_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body to answer."""
        return seed_error(self.status, self.message, self.code, self.field, self.request_id)
