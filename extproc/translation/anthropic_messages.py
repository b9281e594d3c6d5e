"""Anthropic's Messages API (`POST /v1/messages`) to and from the canonical OpenAI chat format.

Requests: `to_openai` checks the body against Anthropic's schema (a 400 that
names the field) and converts it with LiteLLM's own adapter
(`LiteLLMAnthropicMessagesAdapter.translate_anthropic_to_openai`), then
corrects the few places where that adapter's output is not what an OpenAI
chat endpoint accepts or loses meaning (see `_finish_request`).

Answers: `from_openai` converts a buffered chat completion with the same
adapter (`translate_openai_response_to_anthropic`). `StreamToAnthropic` turns
canonical stream chunks into Anthropic's SSE event sequence one chunk at a
time; it is hand-written on purpose, see its docstring.

Errors: `error_body`, `from_openai_error` and `StreamToAnthropic.error_event`
write Anthropic's `{"type": "error", "error": {"type", "message"}}`.

Lossy by necessity: a tool_result's `is_error` becomes an "Error: " prefix
on the tool message (chat completions has no error flag); a plain-text
document becomes a text part; `stop_sequence` in answers is only known when
the provider names the matched string (vLLM's `stop_reason`).
Not translated (dropped): the Anthropic-only request fields in
`_DROPPED_FIELDS` (service tier, containers, MCP servers, context management,
top-level `cache_control`...), which have no chat-completions meaning.
Rejected with a 400, as Anthropic does: unknown top-level fields; and, as
nothing could serve them, Anthropic server-side block types in messages
(search results, server tool results, container uploads) and file-id sources.

This is the only module that imports LiteLLM's Anthropic adapter (its
location moves between LiteLLM releases; 1.106.2 keeps it in
`llms/anthropic/pass_through/adapters`).
"""

from __future__ import annotations

import functools
import re
import secrets
import warnings
from collections.abc import Mapping
from typing import Any

import orjson
from litellm.llms.anthropic.common_utils import normalize_anthropic_tool_use_id
from litellm.llms.anthropic.pass_through.adapters.transformation import (
    LiteLLMAnthropicMessagesAdapter,
    create_tool_name_mapping,
)
from litellm.llms.anthropic.pass_through.messages.utils import refusal_stop_details
from litellm.types.utils import ModelResponse

from extproc.errors import GatewayError, shown
from extproc.formats.validation import check_int, check_number, invalid

_ADAPTER = LiteLLMAnthropicMessagesAdapter()  # type: ignore[no-untyped-call]

# Top-level request fields: translated ones, and Anthropic-only ones dropped
# because a chat-completions provider has nothing to map them to.
_TRANSLATED_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "metadata",
        "stream",
        "thinking",
        "output_config",
        "output_format",
    }
)
_DROPPED_FIELDS = frozenset(
    {
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "mcp_servers",
        "service_tier",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)
_ROLES = ("user", "assistant", "system")
# Content block types each role may carry (Anthropic's server-side blocks are not served).
_BLOCK_TYPES = {
    "user": ("text", "image", "document", "tool_result"),
    "assistant": ("text", "tool_use", "thinking", "redacted_thinking"),
    "system": ("text",),
}
_TOOL_RESULT_BLOCK_TYPES = ("text", "image", "document")
_IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# The keys of a custom tool that have a chat-completions meaning.
_CUSTOM_TOOL_KEYS = frozenset({"type", "name", "description", "input_schema", "cache_control", "strict"})
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING_TYPES = ("enabled", "disabled", "adaptive")
# What a failed tool call's result is prefixed with: chat completions' tool
# messages have no error flag, so `is_error` travels as text the model reads.
TOOL_ERROR_PREFIX = "Error: "

# Anthropic's error type for each status (https://docs.claude.com/en/api/errors).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_TYPES = frozenset(_ERROR_TYPES.values()) | {"conflict_error"}
# OpenAI (and gateway) error types that have a different name in Anthropic's vocabulary.
_TYPE_ALIASES = {
    "server_error": "api_error",
    "upstream_error": "api_error",
    "service_unavailable": "api_error",
    "requests": "rate_limit_error",
    "tokens": "rate_limit_error",
    "insufficient_quota": "billing_error",
}


def to_openai(request: Any) -> dict[str, Any]:
    """to_openai validates an Anthropic Messages request and returns the equivalent OpenAI chat request.

    Raises `GatewayError(400)` naming the offending field when the request does
    not follow Anthropic's schema.
    """
    _check_request(request)
    anthropic = {key: value for key, value in request.items() if key not in _DROPPED_FIELDS}
    anthropic["messages"] = _prepare_messages(request["messages"])
    if isinstance(request.get("tools"), list):
        anthropic["tools"] = [_prepare_tool(tool) for tool in request["tools"]]
    try:
        openai, _ = _ADAPTER.translate_anthropic_to_openai(anthropic)  # type: ignore[arg-type]
    except (ValueError, TypeError, KeyError) as error:  # the checks above should leave nothing for it to reject
        raise GatewayError(400, f"The request could not be translated: {error}", code="invalid_request") from error
    return _finish_request(dict(openai), request)


def tool_name_mapping(request: Mapping[str, Any]) -> dict[str, str]:
    """tool_name_mapping maps the names `to_openai` shortened (OpenAI allows 64 characters) back to the originals.

    Pass it to `from_openai` / `StreamToAnthropic` so clients see their own tool names.
    """
    tools = request.get("tools")
    return create_tool_name_mapping(tools) if isinstance(tools, list) else {}


def from_openai(
    response: Mapping[str, Any], requested_model: str, tool_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """from_openai converts an OpenAI chat.completion into an Anthropic Message for `requested_model`."""
    _litellm_types_ready()
    choices = [c for c in response.get("choices") or () if isinstance(c, dict) and c.get("index", 0) == 0][:1]
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else _NO_USAGE
    model_response = ModelResponse(
        id=response.get("id") or "",
        created=response.get("created") or 0,
        model=response.get("model") or requested_model,
        object="chat.completion",
        choices=choices,
        usage=usage,
    )
    try:
        message: dict[str, Any] = dict(
            _ADAPTER.translate_openai_response_to_anthropic(model_response, dict(tool_names or {}))
        )
    except ValueError as error:  # tool arguments that are not JSON, even after LiteLLM's repair
        raise GatewayError(
            502, f"The provider's answer could not be translated: {error}", code="bad_upstream"
        ) from error
    # An empty text block next to tool calls (content "" from the provider) is not what Anthropic sends.
    blocks = message["content"]
    if len(blocks) > 1:
        message["content"] = [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]
    message["id"] = _message_id(response.get("id"))
    message["model"] = requested_model
    stop_sequence = _stop_sequence(choices[0]) if choices else None
    if stop_sequence is not None:
        message["stop_reason"], message["stop_sequence"] = "stop_sequence", stop_sequence
    message["usage"] = {**_ZERO_CACHE, **message["usage"]}
    return message


class StreamToAnthropic:
    """StreamToAnthropic turns canonical (OpenAI) stream chunks into Anthropic's SSE events, incrementally.

    Events: `message_start` on the first chunk; for each text, thinking or
    tool call a `content_block_start`, its deltas as they arrive
    (`text_delta`, `thinking_delta`/`signature_delta`, `input_json_delta`) and
    a `content_block_stop` as soon as the next block or the finish reason
    shows it is complete; `message_delta` (stop reason and the full usage)
    once both the finish reason and the usage chunk were seen; `message_stop`
    from `close`.

    Written here rather than driving LiteLLM's `AnthropicStreamWrapper`,
    because that wrapper pulls from an iterator of `ModelResponseStream`
    objects, while Envoy pushes us bytes a chunk at a time: using it would mean
    suspending its pull loop between `feed` calls, building a pydantic object
    per chunk (about 30 us; the wrapper costs about 115 us a chunk in all,
    this class 2-5 us), and accepting that it ends the stream silently on any
    exception. Its per-chunk rules are kept (blank role chunks open nothing, a
    chunk carrying both content and a finish reason is content first, a new
    tool call id opens a new block) and the unit tests check the two agree
    event for event; the stop-reason mapping is LiteLLM's own, the usage
    mapping (`anthropic_usage`) follows LiteLLM's and is tested against it.
    """

    __slots__ = (
        "_model",
        "_tool_names",
        "_input_estimate",
        "_started",
        "_ended",
        "_index",
        "_open",
        "_tool_blocks",
        "_tool_ids",
        "_stop_reason",
        "_stop_sequence",
        "_refusal",
        "_usage",
        "_extensions",
        "_delta_sent",
    )

    def __init__(
        self, requested_model: str, tool_names: Mapping[str, str] | None = None, input_tokens: int = 0
    ) -> None:
        """`tool_names` is `tool_name_mapping(request)`; `input_tokens` is an estimate shown in `message_start`."""
        self._model = requested_model
        self._tool_names = tool_names or {}
        self._input_estimate = input_tokens
        self._started = False
        self._ended = False
        # Index of the next content block, and the kind of the open one (None: no block open).
        self._index = 0
        self._open: str | None = None
        # OpenAI tool call index -> Anthropic block index, and the call's id.
        self._tool_blocks: dict[int, int] = {}
        self._tool_ids: dict[int, str | None] = {}
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._refusal = ""
        self._usage: dict[str, Any] | None = None
        self._extensions: dict[str, Any] = {}
        self._delta_sent = False

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """feed returns the Anthropic events (possibly none) for one OpenAI chunk."""
        if self._ended:
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start(chunk))
        error = chunk.get("error")
        if error is not None and not chunk.get("choices"):
            message = error.get("message") if isinstance(error, dict) else str(error)
            type_ = error.get("type") if isinstance(error, dict) else None
            out.append(self.error_event(str(message or "The provider failed mid-stream."), str(type_ or "api_error")))
            return b"".join(out)
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, out)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
            self._extensions.update((k, v) for k, v in chunk.items() if k.startswith("x_"))
        if self._stop_reason is not None and self._usage is not None and not self._delta_sent:
            out.append(self._message_delta())
        return b"".join(out)

    def close(self) -> bytes:
        """close ends the stream: closes an open block, sends `message_delta` if not yet sent, then `message_stop`."""
        if self._ended:
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start({}))
        self._close_block(out)
        if not self._delta_sent:
            out.append(self._message_delta())
        out.append(_event("message_stop", {"type": "message_stop"}))
        self._ended = True
        return b"".join(out)

    def error_event(self, message: str, type_: str) -> bytes:
        """error_event is Anthropic's `event: error` for a failure after the stream started; nothing follows it."""
        self._ended = True
        return _event("error", {"type": "error", "error": {"type": _anthropic_type(type_, 500), "message": message}})

    def _message_start(self, chunk: Mapping[str, Any]) -> bytes:
        self._started = True
        usage = {"input_tokens": self._input_estimate, "output_tokens": 0, **_ZERO_CACHE}
        message: dict[str, Any] = {
            "id": _message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: Mapping[str, Any], out: list[bytes]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._thinking(delta, out)
            for key in ("content", "refusal"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    if key == "refusal":
                        self._refusal += text
                    self._ensure_open("text", {"type": "text", "text": ""}, out)
                    out.append(self._delta({"type": "text_delta", "text": text}))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call, out)
        finish = choice.get("finish_reason")
        if finish and self._stop_reason is None:
            self._close_block(out)
            self._stop_reason = _ADAPTER._translate_openai_finish_reason_to_anthropic(finish)
            if self._refusal and self._stop_reason != "max_tokens":
                self._stop_reason = "refusal"
            self._stop_sequence = _stop_sequence(choice)
            if self._stop_sequence is not None:
                self._stop_reason = "stop_sequence"

    def _thinking(self, delta: Mapping[str, Any], out: list[bytes]) -> None:
        # LiteLLM's translated streams carry reasoning as `reasoning_content`
        # and, for Anthropic-style thinking, `thinking_blocks` with the signature.
        text = delta.get("reasoning_content")
        blocks = delta.get("thinking_blocks")
        block_text = signature = ""
        if isinstance(blocks, list):
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "thinking":
                    block_text += block.get("thinking") or ""
                    signature += block.get("signature") or ""
        if not isinstance(text, str) or not text:
            text = block_text
        if not text and not signature:
            return
        self._ensure_open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
        if text:
            out.append(self._delta({"type": "thinking_delta", "thinking": text}))
        if signature:
            out.append(self._delta({"type": "signature_delta", "signature": signature}))

    def _tool_call(self, call: Mapping[str, Any], out: list[bytes]) -> None:
        position = call["index"] if isinstance(call.get("index"), int) else 0
        call_id = call.get("id")
        function: Mapping[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
        known = position in self._tool_blocks and (not call_id or call_id == self._tool_ids[position])
        if not known:
            name = function.get("name") or ""
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": normalize_anthropic_tool_use_id(call_id) if call_id else f"toolu_{secrets.token_hex(12)}",
                "name": self._tool_names.get(name, name),
                "input": {},
            }
            self._close_block(out)
            self._tool_blocks[position], self._tool_ids[position] = self._index, call_id
            self._start_block("tool_use", block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            event = {
                "type": "content_block_delta",
                "index": self._tool_blocks[position],
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
            out.append(_event("content_block_delta", event))

    def _ensure_open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        if self._open != kind:
            self._close_block(out)
            self._start_block(kind, block, out)

    def _start_block(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        out.append(
            _event("content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block})
        )
        self._open = kind
        self._index += 1

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": self._index - 1}))
            self._open = None

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": self._index - 1, "delta": delta})

    def _message_delta(self) -> bytes:
        self._delta_sent = True
        usage: dict[str, Any] = {"input_tokens": self._input_estimate, "output_tokens": 0, **_ZERO_CACHE}
        if self._usage is not None:
            usage.update(anthropic_usage(self._usage))
        delta: dict[str, Any] = {"stop_reason": self._stop_reason, "stop_sequence": self._stop_sequence}
        if self._stop_reason == "refusal":
            delta["stop_details"] = dict(refusal_stop_details(self._refusal))
        event = {
            "type": "message_delta",
            "delta": delta,
            "usage": usage,
            **self._extensions,
        }
        return _event("message_delta", event)


def error_body(status: int, message: str, type_: str | None = None) -> bytes:
    """error_body is Anthropic's error JSON; the error type follows from `status` unless given."""
    return orjson.dumps({"type": "error", "error": {"type": _anthropic_type(type_, status), "message": message}})


def from_openai_error(status: int, body: bytes) -> bytes:
    """from_openai_error rewrites an OpenAI error body (the gateway's or a provider's) as Anthropic's error."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return error_body(status, text[:2000] or f"The request failed with status {status}.")
    if isinstance(payload, dict):
        error = payload.get("error")
        if payload.get("type") == "error" and isinstance(error, dict) and isinstance(error.get("message"), str):
            return error_body(
                status, error["message"], error.get("type") if isinstance(error.get("type"), str) else None
            )
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error_body(status, error["message"])
        if isinstance(error, str) and error:
            return error_body(status, error)
        for key in ("message", "Message", "detail"):
            value = payload.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return error_body(status, value)
    return error_body(status, f"The request failed with status {status}.")


# --- requests ---------------------------------------------------------------


def _check_request(request: Any) -> None:
    if not isinstance(request, dict):
        raise invalid("The request body must be a JSON object.", None)
    for key in request:
        if key not in _TRANSLATED_FIELDS and key not in _DROPPED_FIELDS:
            raise invalid(f"`{key}`: extra inputs are not permitted.", key)
    model = request.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("`model` must be a non-empty string.", "model")
    if request.get("max_tokens") is None:
        raise _missing("max_tokens")
    check_int(request, "max_tokens", 1)
    messages = request.get("messages")
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("`messages` must be a non-empty list.", "messages")
    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]", last=index == len(messages) - 1)
    system = request.get("system")
    if system is not None and not isinstance(system, str):
        _check_blocks(system, "system", _BLOCK_TYPES["system"], allow_empty=True)
    stop = request.get("stop_sequences")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) and s for s in stop)):
        raise invalid("`stop_sequences` must be a list of non-empty strings.", "stop_sequences")
    check_number(request, "temperature", 0.0, 1.0)
    check_number(request, "top_p", 0.0, 1.0)
    check_int(request, "top_k", 0)
    if request.get("stream") is not None and not isinstance(request["stream"], bool):
        raise invalid("`stream` must be a boolean.", "stream")
    metadata = request.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise invalid("`metadata` must be an object.", "metadata")
        if metadata.get("user_id") is not None and not isinstance(metadata["user_id"], str):
            raise invalid("`metadata.user_id` must be a string.", "metadata.user_id")
    _check_tools(request.get("tools"))
    _check_tool_choice(request.get("tool_choice"))
    _check_thinking(request.get("thinking"), request["max_tokens"])
    for name in ("output_config", "output_format"):
        if request.get(name) is not None and not isinstance(request[name], dict):
            raise invalid(f"`{name}` must be an object.", name)


def _check_message(message: Any, path: str, last: bool) -> None:
    if not isinstance(message, dict):
        raise invalid(f"`{path}` must be an object with `role` and `content`.", path)
    role = message.get("role")
    if role not in _ROLES:
        raise invalid(f"`{path}.role` must be 'user' or 'assistant' (or 'system'); got {shown(role)}.", f"{path}.role")
    content = message.get("content")
    # Anthropic: every message needs content, except an optional final assistant (prefill) one.
    may_be_empty = last and role == "assistant"
    if isinstance(content, str):
        if not content and not may_be_empty:
            raise invalid(f"`{path}.content` must not be empty.", f"{path}.content")
        return
    if content is None:
        raise _missing(f"{path}.content")
    _check_blocks(content, f"{path}.content", _BLOCK_TYPES[role], allow_empty=may_be_empty)


def _check_blocks(blocks: Any, path: str, allowed: tuple[str, ...], allow_empty: bool = False) -> None:
    if not isinstance(blocks, list):
        raise invalid(f"`{path}` must be a string or a list of content blocks.", path)
    if not blocks and not allow_empty:
        raise invalid(f"`{path}` must not be empty.", path)
    for index, block in enumerate(blocks):
        where = f"{path}[{index}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"`{where}` must be an object with a `type`.", where)
        kind = block["type"]
        if kind not in allowed:
            raise invalid(f"`{where}.type` must be one of {', '.join(allowed)} here; got {shown(kind)}.", f"{where}.type")
        _check_block(block, kind, where)


def _check_block(block: dict[str, Any], kind: str, path: str) -> None:
    if kind == "text":
        _check_str(block, "text", path, empty=True)
    elif kind == "image":
        _check_source(block.get("source"), f"{path}.source", ("base64", "url"), media_types=_IMAGE_MEDIA_TYPES)
    elif kind == "document":
        _check_source(block.get("source"), f"{path}.source", ("base64", "url", "text"), media_types=None)
    elif kind == "tool_result":
        _check_str(block, "tool_use_id", path)
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            _check_blocks(content, f"{path}.content", _TOOL_RESULT_BLOCK_TYPES, allow_empty=True)
        if block.get("is_error") is not None and not isinstance(block["is_error"], bool):
            raise invalid(f"`{path}.is_error` must be a boolean.", f"{path}.is_error")
    elif kind == "tool_use":
        _check_str(block, "id", path)
        _check_str(block, "name", path)
        if not isinstance(block.get("input"), dict):
            raise invalid(f"`{path}.input` must be an object.", f"{path}.input")
    elif kind == "thinking":
        _check_str(block, "thinking", path, empty=True)
        _check_str(block, "signature", path, empty=True)
    elif kind == "redacted_thinking":
        _check_str(block, "data", path)


def _check_source(source: Any, path: str, kinds: tuple[str, ...], media_types: tuple[str, ...] | None) -> None:
    if not isinstance(source, dict):
        raise invalid(f"`{path}` must be an object.", path)
    kind = source.get("type")
    if kind not in kinds:
        raise invalid(f"`{path}.type` must be one of {', '.join(kinds)}; got {shown(kind)}.", f"{path}.type")
    if kind == "url":
        _check_str(source, "url", path)
        return
    _check_str(source, "data", path, empty=kind == "text")
    if kind == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or (media_types is not None and media_type not in media_types):
            expected = ", ".join(media_types) if media_types else "a MIME type"
            raise invalid(f"`{path}.media_type` must be {expected}; got {shown(media_type)}.", f"{path}.media_type")


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid("`tools` must be a list.", "tools")
    for index, tool in enumerate(tools):
        path = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid(f"`{path}` must be an object.", path)
        _check_str(tool, "name", path)
        kind = tool.get("type")
        if kind is None or kind == "custom":
            if not isinstance(tool.get("input_schema"), dict):
                raise invalid(f"`{path}.input_schema` must be a JSON schema object.", f"{path}.input_schema")
        elif not isinstance(kind, str):
            raise invalid(f"`{path}.type` must be a string.", f"{path}.type")


def _check_tool_choice(choice: Any) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        got = choice.get("type") if isinstance(choice, dict) else choice
        raise invalid(
            f"`tool_choice.type` must be one of {', '.join(_TOOL_CHOICES)}; got {shown(got)}.", "tool_choice.type"
        )
    if choice["type"] == "tool":
        _check_str(choice, "name", "tool_choice")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and not isinstance(flag, bool):
        raise invalid(
            "`tool_choice.disable_parallel_tool_use` must be a boolean.", "tool_choice.disable_parallel_tool_use"
        )


def _check_thinking(thinking: Any, max_tokens: int) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in _THINKING_TYPES:
        got = thinking.get("type") if isinstance(thinking, dict) else thinking
        raise invalid(f"`thinking.type` must be one of {', '.join(_THINKING_TYPES)}; got {shown(got)}.", "thinking.type")
    if thinking["type"] == "enabled":
        check_int(thinking, "budget_tokens", 1024, name="thinking.budget_tokens")
        if thinking.get("budget_tokens") is None:
            raise _missing("thinking.budget_tokens")
        if thinking["budget_tokens"] >= max_tokens:
            raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`.", "max_tokens")


def _check_str(holder: Mapping[str, Any], key: str, path: str, empty: bool = False) -> None:
    value = holder.get(key)
    if value is None:
        raise _missing(f"{path}.{key}")
    if not isinstance(value, str) or (not value and not empty):
        raise invalid(f"`{path}.{key}` must be a {'' if empty else 'non-empty '}string.", f"{path}.{key}")


def _missing(param: str) -> GatewayError:
    return GatewayError(400, f"`{param}` is required.", code="missing_required_parameter", param=param)


def _prepare_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite the blocks LiteLLM's adapter would drop or flatten; untouched messages are not copied."""
    prepared = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list) and any(_needs_rewrite(block) for block in content):
            message = {**message, "content": [_rewrite(block) for block in content]}
        prepared.append(message)
    return prepared


def _needs_rewrite(block: dict[str, Any]) -> bool:
    kind = block["type"]
    if kind == "document":
        return bool(block["source"]["type"] == "text")
    if kind == "tool_result":
        content = block.get("content")
        nested = isinstance(content, list) and any(_needs_rewrite(part) for part in content)
        return block.get("is_error") is True or nested
    return False


def _rewrite(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "document" and block["source"]["type"] == "text":
        # A plain-text document is its text (LiteLLM drops it: it only maps base64 and URL sources).
        title = block.get("title")
        text = block["source"]["data"]
        return {"type": "text", "text": f"{title}\n\n{text}" if isinstance(title, str) and title else text}
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            content = [_rewrite(part) for part in content]
        if block.get("is_error") is True:
            if isinstance(content, list) and content and content[0]["type"] == "text":
                content = [{**content[0], "text": TOOL_ERROR_PREFIX + content[0]["text"]}, *content[1:]]
            elif isinstance(content, list):
                content = [{"type": "text", "text": TOOL_ERROR_PREFIX.strip()}, *content]
            else:
                content = TOOL_ERROR_PREFIX + (content or "")
        return {**block, "content": content}
    return block


def _prepare_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A custom tool without the keys LiteLLM's adapter would merge into its JSON schema (e.g. `input_examples`)."""
    if tool.get("type") not in (None, "custom") or tool.keys() <= _CUSTOM_TOOL_KEYS:
        return tool
    return {key: value for key, value in tool.items() if key in _CUSTOM_TOOL_KEYS}


def _finish_request(openai: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Fix what LiteLLM's adapter output gets wrong for a chat-completions endpoint."""
    # The adapter writes `thinking_blocks: None` on every assistant message; OpenAI rejects unknown message keys.
    messages = openai["messages"]
    for index, message in enumerate(messages):
        if "thinking_blocks" in message and message["thinking_blocks"] is None:
            messages[index] = {k: v for k, v in message.items() if k != "thinking_blocks"}
    # `metadata: {"user_id": null}` became `user: null`.
    if "user" in openai and openai["user"] is None:
        del openai["user"]
    # Thinking disabled is the default; the adapter's `reasoning_effort: "none"` is rejected by most OpenAI models.
    thinking = request.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "disabled":
        openai.pop("reasoning_effort", None)
    # The adapter ignores `disable_parallel_tool_use`.
    choice = request.get("tool_choice")
    if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True and openai.get("tools"):
        openai["parallel_tool_calls"] = False
    if openai.get("stream") is True:
        openai["stream_options"] = {"include_usage": True}
    else:
        openai.pop("stream", None)
    return openai


# --- answers ----------------------------------------------------------------

_NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
_ZERO_CACHE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _message_id(openai_id: Any) -> str:
    """msg_ plus the upstream id (so logs correlate), or a random one."""
    if isinstance(openai_id, str) and openai_id:
        if openai_id.startswith("msg_"):
            return openai_id
        tail = _ID_CHARS.sub("", openai_id.removeprefix("chatcmpl-"))
        if tail:
            return f"msg_{tail}"
    return f"msg_{secrets.token_hex(12)}"


def _stop_sequence(choice: Mapping[str, Any]) -> str | None:
    """The stop sequence that ended a choice, when the provider says (vLLM's `stop_reason` string does)."""
    if choice.get("finish_reason") != "stop":
        return None
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value else None


def anthropic_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """anthropic_usage maps an OpenAI usage object to Anthropic's usage fields, by LiteLLM's rules.

    Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's
    `prompt_tokens` includes them. This is
    `LiteLLMAnthropicMessagesAdapter.translate_openai_usage_to_anthropic_usage_delta`
    on a plain dict: building LiteLLM's `Usage` object and running the adapter
    costs about 65 us per stream against 2 us here; the unit tests check both agree.
    """
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    read = _first_count(usage, details, ("cache_read_input_tokens",), ("cached_tokens",))
    written = _first_count(
        usage, details, ("cache_creation_input_tokens",), ("cache_creation_tokens", "cache_write_tokens")
    )
    out: dict[str, Any] = {
        "input_tokens": max(_count(usage.get("prompt_tokens")) - read - written, 0),
        "output_tokens": _count(usage.get("completion_tokens")),
    }
    if written:
        out["cache_creation_input_tokens"] = written
    if read:
        out["cache_read_input_tokens"] = read
    server_tools = usage.get("server_tool_use")
    searches = _count(server_tools.get("web_search_requests")) if isinstance(server_tools, dict) else 0
    searches = searches or _count(details.get("web_search_requests"))
    if searches:
        out["server_tool_use"] = {"web_search_requests": searches}
    return out


def _first_count(
    usage: Mapping[str, Any], details: Mapping[str, Any], top: tuple[str, ...], nested: tuple[str, ...]
) -> int:
    for key in top:
        if value := _count(usage.get(key)):
            return value
    for key in nested:
        if value := _count(details.get(key)):
            return value
    return 0


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else 0


@functools.cache
def _litellm_types_ready() -> None:
    """Build LiteLLM's lazily-built response models once, without the warning pydantic gives for their TypedDicts.

    Pydantic warns (a UserWarning, an error under `-W error`) that LiteLLM's
    TypedDicts use `ReadOnly`; the build also costs about 7 ms, better paid once.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Item .* is using the `ReadOnly` qualifier", UserWarning)
        call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        message = {"role": "assistant", "content": "", "tool_calls": [call]}
        ModelResponse(choices=[{"index": 0, "message": message, "finish_reason": "stop"}], usage=_NO_USAGE)


def _anthropic_type(type_: str | None, status: int) -> str:
    if type_:
        if type_ in _ANTHROPIC_TYPES:
            return type_
        if type_ in _TYPE_ALIASES:
            return _TYPE_ALIASES[type_]
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
