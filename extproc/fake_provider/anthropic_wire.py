"""Anthropic's wire format: POST /v1/messages, buffered and as its SSE event sequence.

Streams send message_start, content_block_start, ping, content_block_delta...,
content_block_stop, message_delta and message_stop, as api.anthropic.com does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from extproc.fake_provider import replies, tokens
from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.faults import retry_headers
from extproc.fake_provider.replies import Choice, Prompt, Tool
from extproc.fake_provider.sending import EventStream, json_response
from extproc.fake_provider.wire import Call, Route, Wire, WireError, new_id

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MESSAGES = {
    400: "Invalid request.",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource could not be found.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of requests has exceeded your per-minute rate limit. Please try again later.",
    500: "Internal server error",
    529: "Overloaded",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# Anthropic refuses `max_tokens` above the model's maximum output (dated ids share their model's).
MAX_OUTPUT_TOKENS = {
    "claude-haiku-4-5": 64000,
    "claude-sonnet-4-5": 64000,
    "claude-sonnet-4": 64000,
    "claude-opus-4-1": 32000,
    "claude-3-5-haiku": 8192,
}


def authenticate(request: web.Request, config: FakeConfig) -> WireError | None:
    """authenticate requires a key and `anthropic-version`.

    The key comes in `x-api-key` (LiteLLM, curl) or `Authorization: Bearer` (the anthropic SDK since 2.x).
    """
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        return WireError(401, "x-api-key header is required")
    if config.required_key is not None and key != config.required_key:
        return WireError(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return WireError(400, "anthropic-version: header is required")
    return None


def render_error(error: WireError) -> web.Response:
    """render_error answers `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    status = error.status
    request_id = new_id("req_011", 24)
    body = {
        "type": "error",
        "error": {
            "type": error.type or _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"),
            "message": error.message or _MESSAGES.get(status, f"Request failed with status {status}."),
        },
        "request_id": request_id,
    }
    headers = {"request-id": request_id, **retry_headers(status)}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


async def messages(call: Call) -> web.StreamResponse:
    """messages answers POST /v1/messages."""
    body = call.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "model: Field required")
    prompt = _prompt(body)
    most = next((v for k, v in MAX_OUTPUT_TOKENS.items() if model == k or model.startswith(k + "-")), None)
    if most is not None and prompt.max_tokens is not None and prompt.max_tokens > most:
        raise WireError(
            400,
            f"max_tokens: {prompt.max_tokens} > {most}, which is the maximum allowed number of output tokens "
            f"for {model}",
        )
    choice = replies.answer(prompt)[0]
    input_tokens = replies.prompt_tokens(prompt)
    message_id = new_id("msg_01", 22)
    if body.get("stream") is True:
        return await _stream(call, message_id, model, choice, input_tokens)
    payload = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(choice)],
        "stop_reason": _stop_reason(choice),
        "stop_sequence": choice.stop_sequence,
        "usage": _usage(input_tokens, choice.completion_tokens),
    }
    return json_response(call.request, call.faults, payload, headers=_headers())


async def _stream(call: Call, message_id: str, model: str, choice: Choice, input_tokens: int) -> web.StreamResponse:
    stream = EventStream(call.request, call.faults, headers=_headers())
    await stream.start()
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(input_tokens, 1),
    }
    await stream.send(_event("message_start", {"type": "message_start", "message": start}))
    block = _block(choice)
    size = call.config.chunk_tokens
    if choice.tool_call is not None:
        opening = {**block, "input": {}}
        fragments = ["", *tokens.pieces(choice.tool_call.arguments_json, size)]
        deltas = [{"type": "input_json_delta", "partial_json": fragment} for fragment in fragments]
    else:
        opening = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in tokens.pieces(choice.text, size)]
    await stream.send(
        _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening})
    )
    await stream.send(_event("ping", {"type": "ping"}))
    for delta in deltas:
        await stream.send(_event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    await stream.send(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    ending = {
        "type": "message_delta",
        "delta": {"stop_reason": _stop_reason(choice), "stop_sequence": choice.stop_sequence},
        "usage": {"output_tokens": choice.completion_tokens},
    }
    await stream.send(_event("message_delta", ending))
    await stream.send(_event("message_stop", {"type": "message_stop"}))
    return await stream.finish()


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _block(choice: Choice) -> dict[str, Any]:
    if choice.tool_call is not None:
        return {
            "type": "tool_use",
            "id": new_id("toolu_01", 22),
            "name": choice.tool_call.name,
            "input": choice.tool_call.arguments,
        }
    return {"type": "text", "text": choice.text}


def _stop_reason(choice: Choice) -> str:
    return "stop_sequence" if choice.stop_sequence is not None else _STOP_REASONS[choice.finish]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _headers() -> dict[str, str]:
    return {"request-id": new_id("req_011", 24)}


def _prompt(body: dict[str, Any]) -> Prompt:
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise WireError(400, "max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise WireError(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if messages is None:
        raise WireError(400, "messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "messages: at least one message is required")
    prompt = Prompt(max_tokens=max_tokens)
    system = _blocks_text(body.get("system"))
    if system:
        prompt.message_texts.append(system)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise WireError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        prompt.message_texts.append(_counted_text(content))
        if message["role"] == "user":
            prompt.last_user_text = _blocks_text(content)
    last = messages[-1]
    results = [b for b in _blocks(last.get("content")) if b.get("type") == "tool_result"]
    if last.get("role") == "user" and results:
        prompt.tool_result = " ".join(_blocks_text(b.get("content")) for b in results)
    stop = body.get("stop_sequences")
    prompt.stop = [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    output_format = body.get("output_format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        schema = output_format.get("schema")
        prompt.json_mode, prompt.json_schema = True, schema if isinstance(schema, dict) else {}
    prompt.tools = _tools(body.get("tools"))
    prompt.tool_choice = _tool_choice(body.get("tool_choice"))
    return prompt


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _blocks_text(content: Any) -> str:
    """The text blocks of a content (string or block list), joined with a space."""
    if isinstance(content, str):
        return content
    return " ".join(b["text"] for b in _blocks(content) if b.get("type") == "text" and isinstance(b.get("text"), str))


def _counted_text(content: Any) -> str:
    """Every text a message carries (text, tool calls, tool results), for counting."""
    parts = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif kind == "tool_use":
            parts.append(f"{block.get('name') or ''} {orjson.dumps(block.get('input') or {}).decode()}")
        elif kind == "tool_result":
            parts.append(_blocks_text(block.get("content")))
    return " ".join(parts)


def _tools(raw: Any) -> list[Tool]:
    tools = []
    for tool in raw if isinstance(raw, list) else []:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            schema = tool.get("input_schema")
            tools.append(Tool(tool["name"], schema if isinstance(schema, dict) else {}))
    return tools


def _tool_choice(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "auto"
    if raw.get("type") == "none":
        return "none"
    name = raw.get("name")
    if raw.get("type") == "tool" and isinstance(name, str):
        return name
    return "auto"


WIRE = Wire(
    name="anthropic",
    routes=(Route("POST", "/v1/messages", messages),),
    authenticate=authenticate,
    render_error=render_error,
    invalid_json="There was an error parsing the body of your request.",
)
