"""Client-facing errors in OpenAI's error JSON shape.

Every error the gateway produces itself goes through `GatewayError`, so that a
client always gets `{"error": {"message", "type", "param", "code"}}` with the
status OpenAI would use for the same failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

# The `type` OpenAI uses for each status the gateway answers with.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


@dataclass(slots=True)
class GatewayError(Exception):
    """An error answered to the client in OpenAI error JSON."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    type: str | None = None
    # Headers the reply carries besides the error body (Retry-After, rate-limit state).
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        """The OpenAI error JSON for this error."""
        return error_body(self.status, self.message, code=self.code, param=self.param, type=self.type)


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    type: str | None = None,
) -> bytes:
    """Serialise an OpenAI-shaped error object."""
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": type or _TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                "param": param,
                "code": code,
            }
        }
    )
