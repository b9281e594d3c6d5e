"""`POST /v1/chat/completions`: OpenAI's chat schema, validated before routing.

The checks are the ones a client needs a clear 400 for before anything is
spent upstream (shape and types of the fields the gateway reads, and value
ranges OpenAI documents); providers validate the rest themselves.
"""

from __future__ import annotations

from typing import Any

from extproc.endpoints.base import OpenAIEndpoint, ParsedRequest
from extproc.errors import shown
from extproc.formats.validation import check_depth, check_int, check_number, invalid, require_model

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MAX_N = 128


class ChatCompletions(OpenAIEndpoint):
    """The OpenAI chat completions endpoint."""

    path = "/v1/chat/completions"
    kind = "chat"
    upstream_path = "/v1/chat/completions"

    def parse(self, body: Any) -> ParsedRequest:
        """Check the fields the gateway and any provider rely on."""
        model = require_model(body)
        check_depth(body)
        _check_messages(body.get("messages"))
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise invalid("`stream` must be a boolean.", "stream")
        stream_options = body.get("stream_options")
        stream_usage = False
        if stream_options is not None:
            if not isinstance(stream_options, dict):
                raise invalid("`stream_options` must be an object.", "stream_options")
            if not stream:
                raise invalid("`stream_options` is only allowed when `stream` is true.", "stream_options")
            stream_usage = stream_options.get("include_usage") is True
        for name in ("max_tokens", "max_completion_tokens"):
            check_int(body, name, low=1, high=None)
        check_int(body, "n", low=1, high=_MAX_N)
        check_number(body, "temperature", 0.0, 2.0)
        check_number(body, "top_p", 0.0, 1.0)
        check_number(body, "presence_penalty", -2.0, 2.0)
        check_number(body, "frequency_penalty", -2.0, 2.0)
        tools = body.get("tools")
        if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
            raise invalid("`tools` must be a list of objects.", "tools")
        stop = body.get("stop")
        if stop is not None and not (
            isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
        ):
            raise invalid("`stop` must be a string or a list of strings.", "stop")
        return ParsedRequest(model=model, stream=bool(stream), stream_usage=stream_usage)

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Ask streams for their usage chunk, so every answer can be counted and priced."""
        if parsed.stream and not parsed.stream_usage:
            options = body.get("stream_options") or {}
            body["stream_options"] = {**options, "include_usage": True}
            return True
        return False


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise invalid("`messages` is required and must be a non-empty list.", "messages")
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid(f"`{param}` must be an object.", param)
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:  # a list or object role is not hashable
            raise invalid(
                f"`{param}.role` must be one of {', '.join(sorted(_ROLES))}; got {shown(role)}.", f"{param}.role"
            )
        content = message.get("content")
        if content is None:
            if role in ("assistant", "function") or "tool_calls" in message:
                continue
            raise invalid(f"`{param}.content` is required for role {role!r}.", f"{param}.content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(
            isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
        ):
            raise invalid(
                f"`{param}.content` must be a string or a list of typed content parts.", f"{param}.content"
            )
