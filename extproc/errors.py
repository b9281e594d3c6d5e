"""Client-facing errors in OpenAI's error JSON shape.

Every error the gateway produces itself goes through `GatewayError`, so that a
client always gets `{"error": {"message", "type", "param", "code"}}` with the
status OpenAI would use for the same failure.

A message may quote what the client sent (a model name, a path, a value); it
quotes it through `shown`, which elides long strings and containers, and a
message is cut at MAX_MESSAGE_CHARS whatever it quotes: a 3.9 MB model name
once made a 3.9 MB 404, log line and span name.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import Any

import orjson

# Longest client string an error, a log field or a span repeats (a model name, a path, a value).
ECHO_CHARS = 128
# Longest error message or `param` the gateway sends, whatever it quotes.
MAX_MESSAGE_CHARS = 2048
MAX_PARAM_CHARS = 256
_CUT = "...[cut]"

_echo = reprlib.Repr()
_echo.maxstring = _echo.maxother = ECHO_CHARS
_echo.maxlist = _echo.maxtuple = _echo.maxdict = _echo.maxset = 6
_echo.maxlevel = 3
_echo.maxlong = 40


def shown(value: Any) -> str:
    """A client's value as a message quotes it: its repr, long strings and containers elided (reprlib)."""
    return _echo.repr(value)


def clipped(text: str | None, limit: int = ECHO_CHARS) -> str | None:
    """`text` cut to about `limit` characters, the cut marked; for log fields and span names."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + _CUT

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


class StoreUnavailable(Exception):
    """A store could not be read or written right now (its backend is down, hung, locked or broken).

    Every store raises this for its backend's failure (`extproc.stores.store_call`); policy code
    catches it, never a backend's own error."""


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

    def __post_init__(self) -> None:
        self.message = clipped(self.message, MAX_MESSAGE_CHARS) or ""
        self.param = clipped(self.param, MAX_PARAM_CHARS)

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
