"""Every text of a canonical (OpenAI-format) request that the provider will read.

Chat: message contents (strings and text parts), tool results (tool-role
messages) and the arguments of earlier tool calls. Embeddings: the input
strings. Anthropic requests are canonical by now, so their system
prompt, text blocks and tool results are among these.
"""

from __future__ import annotations

from typing import Any, Callable

# Rewrites one text (returns it unchanged when there is nothing to do).
Rewrite = Callable[[str], str]


def rewrite_request(body: dict[str, Any], kind: str, rewrite: Rewrite) -> bool:
    """Apply `rewrite` to each text in place; True when any changed."""
    if kind == "embeddings":
        return _rewrite_input(body, rewrite)
    changed = False
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            changed |= _rewrite_message(message, rewrite)
    return changed


def _rewrite_message(message: dict[str, Any], rewrite: Rewrite) -> bool:
    changed = _rewrite_key(message, "content", rewrite)
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                changed |= _rewrite_key(part, "text", rewrite)
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            changed |= _rewrite_key(function, "arguments", rewrite)
    if isinstance(message.get("function_call"), dict):
        changed |= _rewrite_key(message["function_call"], "arguments", rewrite)
    return changed


def _rewrite_input(body: dict[str, Any], rewrite: Rewrite) -> bool:
    value = body.get("input")
    if isinstance(value, str):
        return _rewrite_key(body, "input", rewrite)
    changed = False
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                new = rewrite(item)
                if new != item:
                    value[index] = new
                    changed = True
    return changed


def _rewrite_key(holder: dict[str, Any], key: str, rewrite: Rewrite) -> bool:
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        return False
    new = rewrite(value)
    if new == value:
        return False
    holder[key] = new
    return True
