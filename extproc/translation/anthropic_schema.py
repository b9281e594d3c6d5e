"""Anthropic's Messages API request schema: a 400 naming the field, as Anthropic gives it.

Checked before the request is converted (`anthropic_messages.to_openai`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extproc.errors import GatewayError, shown
from extproc.formats.validation import check_int, check_number, invalid

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

DROPPED_FIELDS = frozenset(
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

_TOOL_CHOICES = ("auto", "any", "tool", "none")

_THINKING_TYPES = ("enabled", "disabled", "adaptive")

def check_request(request: Any) -> None:
    """Refuse a Messages request the translation cannot carry, naming the field."""
    if not isinstance(request, dict):
        raise invalid("The request body must be a JSON object.", None)
    for key in request:
        if key not in _TRANSLATED_FIELDS and key not in DROPPED_FIELDS:
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
