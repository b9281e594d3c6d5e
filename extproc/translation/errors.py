"""Translation failures, and provider error bodies read back as OpenAI errors."""

from __future__ import annotations

from typing import Any

import orjson

# OpenAI's error `type` for each status a provider may answer with.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
# Longest provider error text passed on to the client.
_MAX_MESSAGE = 2000


class TranslationError(Exception):
    """A request or answer that cannot be translated.

    `status` is what the client should get: 400 for a request the provider cannot
    take, 500 for a gateway misconfiguration (missing credentials), 502 for a
    provider answer that cannot be read. Messages never contain credentials.
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"TranslationError(status={self.status}, code={self.code!r}, message={self.message!r})"


def error_type(status: int) -> str:
    """The OpenAI error type for an HTTP status."""
    return _TYPE_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_message(body: bytes) -> str | None:
    """The message of a provider error body in any of the known shapes, or its text; None if empty.

    Shapes: OpenAI `{"error": {"message"}}`, Anthropic `{"type": "error", "error": {"message"}}`,
    Gemini `{"error": {"code", "message", "status"}}` (alone or in a list), Mistral and
    vLLM `{"message"}` / `{"detail"}`, or plain text.
    """
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if isinstance(parsed, dict):
        found = _message_of(parsed)
        if found:
            return _clip(found)
    text = body.decode("utf-8", "replace").strip()
    return _clip(text) if text else None


def _message_of(obj: dict[str, Any]) -> str | None:
    inner = obj.get("error")
    if isinstance(inner, dict):
        message = inner.get("message")
        if isinstance(message, str) and message:
            return message
    if isinstance(inner, str) and inner:
        return inner
    for key in ("message", "detail"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            # FastAPI validation errors: [{"loc": [...], "msg": "..."}].
            parts = [str(item.get("msg")) for item in value if isinstance(item, dict) and item.get("msg")]
            if parts:
                return "; ".join(parts)
    return None


def stream_error(event: Any) -> tuple[str, str] | None:
    """(message, provider error type) if a stream event is an error event, else None."""
    if not isinstance(event, dict) or "error" not in event:
        return None
    if "choices" in event or "candidates" in event:
        return None
    inner = event["error"]
    kind = "api_error"
    if isinstance(inner, dict):
        raw_kind = inner.get("type") or inner.get("status")
        kind = str(raw_kind) if raw_kind else kind
    return _message_of(event) or "The provider reported an error in the stream.", kind


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."
