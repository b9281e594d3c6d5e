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
`DROPPED_FIELDS` (service tier, containers, MCP servers, context management,
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
from litellm.llms.anthropic.pass_through.adapters.transformation import (
    LiteLLMAnthropicMessagesAdapter,
    create_tool_name_mapping,
)
from litellm.types.utils import ModelResponse

from extproc.errors import GatewayError
from extproc.translation.anthropic_schema import DROPPED_FIELDS, check_request

ADAPTER = LiteLLMAnthropicMessagesAdapter()  # type: ignore[no-untyped-call]

# The keys of a custom tool that have a chat-completions meaning.
_CUSTOM_TOOL_KEYS = frozenset({"type", "name", "description", "input_schema", "cache_control", "strict"})

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
    check_request(request)
    anthropic = {key: value for key, value in request.items() if key not in DROPPED_FIELDS}
    anthropic["messages"] = _prepare_messages(request["messages"])
    if isinstance(request.get("tools"), list):
        anthropic["tools"] = [_prepare_tool(tool) for tool in request["tools"]]
    try:
        openai, _ = ADAPTER.translate_anthropic_to_openai(anthropic)  # type: ignore[arg-type]
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
            ADAPTER.translate_openai_response_to_anthropic(model_response, dict(tool_names or {}))
        )
    except ValueError as error:  # tool arguments that are not JSON, even after LiteLLM's repair
        raise GatewayError(
            502, f"The provider's answer could not be translated: {error}", code="bad_upstream"
        ) from error
    # An empty text block next to tool calls (content "" from the provider) is not what Anthropic sends.
    blocks = message["content"]
    if len(blocks) > 1:
        message["content"] = [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]
    message["id"] = message_id(response.get("id"))
    message["model"] = requested_model
    stop_sequence = matched_stop_sequence(choices[0]) if choices else None
    if stop_sequence is not None:
        message["stop_reason"], message["stop_sequence"] = "stop_sequence", stop_sequence
    message["usage"] = {**ZERO_CACHE, **message["usage"]}
    return message

def error_body(status: int, message: str, type_: str | None = None) -> bytes:
    """error_body is Anthropic's error JSON; the error type follows from `status` unless given."""
    return orjson.dumps({"type": "error", "error": {"type": anthropic_type(type_, status), "message": message}})

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

_NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

ZERO_CACHE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")

def message_id(openai_id: Any) -> str:
    """msg_ plus the upstream id (so logs correlate), or a random one."""
    if isinstance(openai_id, str) and openai_id:
        if openai_id.startswith("msg_"):
            return openai_id
        tail = _ID_CHARS.sub("", openai_id.removeprefix("chatcmpl-"))
        if tail:
            return f"msg_{tail}"
    return f"msg_{secrets.token_hex(12)}"

def matched_stop_sequence(choice: Mapping[str, Any]) -> str | None:
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

def anthropic_type(type_: str | None, status: int) -> str:
    """The Anthropic error type for an error type (or, without one, an HTTP status)."""
    if type_:
        if type_ in _ANTHROPIC_TYPES:
            return type_
        if type_ in _TYPE_ALIASES:
            return _TYPE_ALIASES[type_]
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"
