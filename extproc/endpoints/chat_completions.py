"""`POST /v1/chat/completions`: OpenAI's chat schema, validated before routing.

The checks are the ones a client needs a clear 400 for before anything is
spent upstream (shape and types of the fields the gateway reads, and value
ranges OpenAI documents); providers validate the rest themselves.
"""

from __future__ import annotations

from typing import Any

from ..client_formats import OPENAI
from ..errors import GatewayError
from ..usage import Usage, usage_from_openai
from .base import ParsedRequest

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MAX_N = 128


class ChatCompletions:
    """The OpenAI chat completions endpoint."""

    method = "POST"
    path = "/v1/chat/completions"
    kind = "chat"
    upstream_path = "/v1/chat/completions"
    client_format = OPENAI

    def to_canonical(self, body: Any) -> Any:
        """Already canonical."""
        return body

    def parse(self, body: Any) -> ParsedRequest:
        """Check the fields the gateway and any provider rely on."""
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.", None)
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _invalid("`model` is required and must be a non-empty string.", "model")
        _check_messages(body.get("messages"))
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise _invalid("`stream` must be a boolean.", "stream")
        stream_options = body.get("stream_options")
        stream_usage = False
        if stream_options is not None:
            if not isinstance(stream_options, dict):
                raise _invalid("`stream_options` must be an object.", "stream_options")
            if not stream:
                raise _invalid("`stream_options` is only allowed when `stream` is true.", "stream_options")
            stream_usage = stream_options.get("include_usage") is True
        for name in ("max_tokens", "max_completion_tokens"):
            _check_int(body, name, low=1, high=None)
        _check_int(body, "n", low=1, high=_MAX_N)
        _check_number(body, "temperature", 0.0, 2.0)
        _check_number(body, "top_p", 0.0, 1.0)
        _check_number(body, "presence_penalty", -2.0, 2.0)
        _check_number(body, "frequency_penalty", -2.0, 2.0)
        tools = body.get("tools")
        if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
            raise _invalid("`tools` must be a list of objects.", "tools")
        stop = body.get("stop")
        if stop is not None and not (
            isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
        ):
            raise _invalid("`stop` must be a string or a list of strings.", "stop")
        return ParsedRequest(model=model, stream=bool(stream), stream_usage=stream_usage)

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Ask streams for their usage chunk, so every answer can be counted and priced."""
        if parsed.stream and not parsed.stream_usage:
            options = body.get("stream_options") or {}
            body["stream_options"] = {**options, "include_usage": True}
            return True
        return False

    def usage(self, payload: dict[str, Any]) -> Usage | None:
        """Usage of a completion or of a stream's usage chunk."""
        return usage_from_openai(payload)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise _invalid("`messages` is required and must be a non-empty list.", "messages")
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _invalid(f"`{param}` must be an object.", param)
        role = message.get("role")
        if role not in _ROLES:
            raise _invalid(
                f"`{param}.role` must be one of {', '.join(sorted(_ROLES))}; got {role!r}.", f"{param}.role"
            )
        content = message.get("content")
        if content is None:
            if role in ("assistant", "function") or "tool_calls" in message:
                continue
            raise _invalid(f"`{param}.content` is required for role {role!r}.", f"{param}.content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(
            isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
        ):
            raise _invalid(
                f"`{param}.content` must be a string or a list of typed content parts.", f"{param}.content"
            )


def _check_int(body: dict[str, Any], name: str, low: int, high: int | None) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"`{name}` must be an integer.", name)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(f"`{name}` must be {bound}; got {value}.", name)


def _check_number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _invalid(f"`{name}` must be a number.", name)
    if not low <= value <= high:
        raise _invalid(f"`{name}` must be between {low:g} and {high:g}; got {value}.", name)


def _invalid(message: str, param: str | None) -> GatewayError:
    return GatewayError(400, message, code="invalid_request", param=param)
