"""The wire format a client speaks: OpenAI's or Anthropic's.

Inside the gateway every request and answer is in OpenAI's chat format (the
canonical one). A client format turns canonical answers, stream chunks and
errors into what the client's SDK expects. Provider formats are the other
side of the same idea (`translation.providers`).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from extproc.decisions import Reply
from extproc.errors import GatewayError
from extproc.errors import error_body as openai_error_body
from extproc.translation import anthropic_messages
from extproc.translation.anthropic_stream import StreamToAnthropic

# An extension object on the stream's usage chunk (OpenAI) or message_delta
# event (Anthropic): what the gateway served and what it cost. SDKs keep unknown
# fields, so clients can read it without a custom parser.
GATEWAY_FIELD = "x_gateway"


class StreamWriter(Protocol):
    """Canonical stream chunks in, the client's SSE bytes out."""

    def feed(self, chunk: dict[str, Any]) -> bytes:
        """The client's bytes for one canonical chunk (may be empty)."""
        ...

    def close(self) -> bytes:
        """The bytes that end the stream."""
        ...

    def error(self, message: str, type_: str) -> bytes:
        """A well-formed error event for a failure mid-stream."""
        ...


class ClientFormat(Protocol):
    """How answers and errors are shaped for one kind of client."""

    name: str

    def error_body(self, status: int, message: str, *, code: str | None, param: str | None, type_: str | None) -> bytes:
        """An error in the client's error JSON."""
        ...

    def answer(self, canonical: dict[str, Any], requested_model: str, client_request: Any) -> dict[str, Any]:
        """A buffered canonical answer in the client's shape (`client_request`: the body the client sent)."""
        ...

    def stream_writer(self, requested_model: str, include_usage: bool, client_request: Any) -> StreamWriter:
        """A writer for one streamed answer."""
        ...


class OpenAIFormat:
    """OpenAI chat completions and embeddings: the canonical format itself."""

    name = "openai"

    def error_body(self, status: int, message: str, *, code: str | None, param: str | None, type_: str | None) -> bytes:
        """OpenAI's `{"error": {...}}`."""
        return openai_error_body(status, message, code=code, param=param, type=type_)

    def answer(self, canonical: dict[str, Any], requested_model: str, client_request: Any) -> dict[str, Any]:
        """Unchanged."""
        return canonical

    def stream_writer(self, requested_model: str, include_usage: bool, client_request: Any) -> StreamWriter:
        """OpenAI SSE: one `data:` event per chunk, `[DONE]` at the end."""
        return OpenAIStreamWriter(include_usage)


class OpenAIStreamWriter:
    """Serialises canonical chunks as OpenAI SSE events."""

    def __init__(self, include_usage: bool) -> None:
        self._include_usage = include_usage

    def feed(self, chunk: dict[str, Any]) -> bytes:
        """`data: {...}`; the usage chunk only when the client asked for it."""
        if chunk.get("choices") == [] and "usage" in chunk and not self._include_usage:
            return b""
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def close(self) -> bytes:
        """OpenAI's end-of-stream sentinel."""
        return b"data: [DONE]\n\n"

    def error(self, message: str, type_: str) -> bytes:
        """The error object OpenAI's SDK raises as APIError when it arrives mid-stream."""
        return b"data: " + orjson.dumps({"error": {"message": message, "type": type_, "param": None, "code": None}}) + b"\n\n"


class AnthropicFormat:
    """Anthropic's Messages API, translated from and to the canonical format."""

    name = "anthropic"

    def error_body(self, status: int, message: str, *, code: str | None, param: str | None, type_: str | None) -> bytes:
        """Anthropic's `{"type": "error", "error": {...}}` (its types follow from the status)."""
        return anthropic_messages.error_body(status, message)

    def answer(self, canonical: dict[str, Any], requested_model: str, client_request: Any) -> dict[str, Any]:
        """An Anthropic `message` object, with the client's own tool names."""
        answer = anthropic_messages.from_openai(canonical, requested_model, _tool_names(client_request))
        if GATEWAY_FIELD in canonical:
            answer[GATEWAY_FIELD] = canonical[GATEWAY_FIELD]
        return answer

    def stream_writer(self, requested_model: str, include_usage: bool, client_request: Any) -> StreamWriter:
        """Anthropic's event sequence (it always carries usage)."""
        return AnthropicStreamWriter(requested_model, _tool_names(client_request))


class AnthropicStreamWriter:
    """Canonical chunks to Anthropic SSE events."""

    def __init__(self, requested_model: str, tool_names: dict[str, str] | None = None) -> None:
        self._events = StreamToAnthropic(requested_model, tool_names)

    def feed(self, chunk: dict[str, Any]) -> bytes:
        """Zero or more events for one canonical chunk."""
        return self._events.feed(chunk)

    def close(self) -> bytes:
        """Close open blocks, then `message_delta` and `message_stop`."""
        return self._events.close()

    def error(self, message: str, type_: str) -> bytes:
        """Anthropic's `event: error`."""
        return self._events.error_event(message, type_)


def _tool_names(client_request: Any) -> dict[str, str] | None:
    """Tool names the canonical request had to shorten (OpenAI allows 64 characters), mapped back."""
    if not isinstance(client_request, dict) or not client_request.get("tools"):
        return None
    return anthropic_messages.tool_name_mapping(client_request) or None


OPENAI = OpenAIFormat()
ANTHROPIC = AnthropicFormat()

FORMATS: dict[str, ClientFormat] = {OPENAI.name: OPENAI, ANTHROPIC.name: ANTHROPIC}
ANTHROPIC_PATH = "/v1/messages"


def for_path(path: str) -> ClientFormat:
    """The format a client calling `path` speaks, before any endpoint is chosen (`/v1/messages...`: Anthropic;
    the seed API's paths: the seed's)."""
    from extproc.formats.seed import SEED, SEED_PATHS  # noqa: PLC0415 - seed.py builds on this module

    route = path.split("?", 1)[0]
    if route in SEED_PATHS:
        return SEED
    return ANTHROPIC if route == ANTHROPIC_PATH or route.startswith(ANTHROPIC_PATH + "/") else OPENAI


def named(name: object) -> ClientFormat:
    """The format called `name` (request metadata `client_format`); OpenAI when unknown."""
    return FORMATS.get(name, OPENAI) if isinstance(name, str) else OPENAI


def error_body(client_format: ClientFormat, error: GatewayError) -> bytes:
    """A gateway error in `client_format`'s error JSON."""
    return client_format.error_body(error.status, error.message, code=error.code, param=error.param, type_=error.type)


def error_reply(client_format: ClientFormat, error: GatewayError, headers: dict[str, str] | None = None) -> Reply:
    """A gateway error as a reply in `client_format`'s error JSON (with its own headers, then `headers`)."""
    return Reply.from_error(error, headers, body=error_body(client_format, error))
