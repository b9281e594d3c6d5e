"""OpenAI's wire format: chat completions (buffered and SSE), embeddings, the model list.

Bodies follow what api.openai.com sends, field for field, so the `openai` SDK
and LiteLLM's parsers accept them unchanged.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from extproc.fake_provider import replies, tokens, vectors
from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.faults import retry_headers
from extproc.fake_provider.recording import fingerprint
from extproc.fake_provider.replies import Choice, Prompt, Tool
from extproc.fake_provider.sending import EventStream, json_response
from extproc.fake_provider.wire import Call, Route, Wire, WireError, new_id

FINGERPRINT = "fp_fake0000000"
# OpenAI counts 3 tokens around every message and 3 to prime the reply.
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "text-embedding-3-small", "text-embedding-3-large")

# What OpenAI refuses beyond (its limits for these models): completion tokens per request,
# embedding dimensions, and inputs per embeddings request. Dated snapshots share their model's limit.
MAX_COMPLETION_TOKENS = {"gpt-4o-mini": 16384, "gpt-4o": 16384, "gpt-4.1-mini": 32768}
EMBEDDING_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_EMBEDDING_INPUTS = 2048

_DONE = b"data: [DONE]\n\n"
_TYPES = {401: "invalid_request_error", 429: "requests"}
_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    403: "You are not allowed to access this resource.",
    404: "The model does not exist or you do not have access to it.",
    408: "Request timed out.",
    409: "Conflict.",
    422: "Unprocessable request.",
    429: "Rate limit reached for requests. Please try again in 1s.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}


def authenticate(request: web.Request, config: FakeConfig) -> WireError | None:
    """authenticate requires `Authorization: Bearer <key>` (and the configured key, if any)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return WireError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
            "https://platform.openai.com/account/api-keys.",
            type="invalid_request_error",
        )
    if config.required_key is not None and key != config.required_key:
        return WireError(
            401,
            f"Incorrect API key provided: {fingerprint(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
        )
    return None


def render_error(error: WireError) -> web.Response:
    """render_error answers `{"error": {"message", "type", "param", "code"}}`."""
    status = error.status
    body = {
        "error": {
            "message": error.message or _MESSAGES.get(status, f"Request failed with status {status}."),
            "type": error.type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": error.param,
            "code": error.code or _CODES.get(status),
        }
    }
    headers = {"x-request-id": new_id("req_", 32), **retry_headers(status)}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


async def chat_completions(call: Call) -> web.StreamResponse:
    """chat_completions answers POST /v1/chat/completions."""
    body = call.body
    model = _model(body)
    prompt = _prompt(body)
    _check_completion_limit(model, body)
    choices = replies.answer(prompt)
    prompt_tokens = replies.prompt_tokens(prompt, TOKENS_PER_MESSAGE, REPLY_PRIMING)
    usage = _usage(prompt_tokens, replies.completion_tokens(choices))
    head = {"id": new_id("chatcmpl-", 29), "created": int(time.time()), "model": model}
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await _stream(call, head, choices, usage if include_usage else None)
    payload = {
        "id": head["id"],
        "object": "chat.completion",
        "created": head["created"],
        "model": model,
        "choices": [_choice(i, choice) for i, choice in enumerate(choices)],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return json_response(call.request, call.faults, payload, headers=_headers())


async def embeddings(call: Call) -> web.StreamResponse:
    """embeddings answers POST /v1/embeddings with deterministic unit vectors."""
    body = call.body
    model = _model(body)
    inputs = _embedding_inputs(body.get("input"))
    dims = body.get("dimensions", call.config.embedding_dims)
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        raise WireError(400, "Invalid 'dimensions': expected a positive integer.", param="dimensions")
    # Models this fake does not know get the largest OpenAI size (or the configured one, if larger).
    most = _limit(EMBEDDING_DIMENSIONS, model) or max(call.config.embedding_dims, max(EMBEDDING_DIMENSIONS.values()))
    if dims > most:
        raise WireError(
            400,
            f"Invalid 'dimensions': integer above maximum value. Expected a value <= {most}, but got {dims} instead.",
            param="dimensions",
            code="integer_above_max_value",
        )
    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise WireError(400, "Invalid 'encoding_format': expected 'float' or 'base64'.", param="encoding_format")
    render = vectors.as_base64 if encoding_format == "base64" else vectors.as_floats
    data = []
    used = 0
    for index, (key, count) in enumerate(inputs):
        data.append({"object": "embedding", "index": index, "embedding": render(vectors.embedding(key, dims))})
        used += count
    payload = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": used, "total_tokens": used}}
    return json_response(call.request, call.faults, payload, headers=_headers())


async def list_models(call: Call) -> web.StreamResponse:
    """list_models answers GET /v1/models."""
    data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": "system"} for name in MODELS]
    return json_response(call.request, call.faults, {"object": "list", "data": data}, headers=_headers())


async def _stream(
    call: Call, head: dict[str, Any], choices: list[Choice], usage: dict[str, Any] | None
) -> web.StreamResponse:
    stream = EventStream(call.request, call.faults, headers=_headers())
    await stream.start()
    base = {
        "id": head["id"],
        "object": "chat.completion.chunk",
        "created": head["created"],
        "model": head["model"],
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    with_usage = usage is not None

    def event(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {**base, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if with_usage:
            chunk["usage"] = None
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    size = call.config.chunk_tokens
    for index, choice in enumerate(choices):
        if choice.tool_call is not None:
            header = {
                "index": 0,
                "id": new_id("call_", 24),
                "type": "function",
                "function": {"name": choice.tool_call.name, "arguments": ""},
            }
            await stream.send(
                event(index, {"role": "assistant", "content": None, "tool_calls": [header], "refusal": None})
            )
            for piece in tokens.pieces(choice.tool_call.arguments_json, size):
                await stream.send(event(index, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            await stream.send(event(index, {"role": "assistant", "content": "", "refusal": None}))
            for piece in tokens.pieces(choice.text, size):
                await stream.send(event(index, {"content": piece}))
        await stream.send(event(index, {}, choice.finish))
    if usage is not None:
        await stream.send(b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n")
    await stream.send(_DONE)
    return await stream.finish()


def _choice(index: int, choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.text, "refusal": None, "annotations": []}
    if choice.tool_call is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": new_id("call_", 24),
                "type": "function",
                "function": {"name": choice.tool_call.name, "arguments": choice.tool_call.arguments_json},
            }
        ]
    return {"index": index, "message": message, "logprobs": None, "finish_reason": choice.finish}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _headers() -> dict[str, str]:
    return {"x-request-id": new_id("req_", 32), "openai-processing-ms": "1"}


def _limit(limits: dict[str, int], model: str) -> int | None:
    """The limit of `model` or of the model it is a dated snapshot of ("gpt-4o-mini-2024-07-18")."""
    if model in limits:
        return limits[model]
    for name in sorted(limits, key=len, reverse=True):
        if model.startswith(name + "-"):
            return limits[name]
    return None


def _check_completion_limit(model: str, body: dict[str, Any]) -> None:
    """OpenAI refuses a completion limit above the model's maximum output."""
    most = _limit(MAX_COMPLETION_TOKENS, model)
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if most is not None and isinstance(value, int) and value > most:
            raise WireError(
                400,
                f"{name} is too large: {value}. This model supports at most {most} completion tokens, "
                f"whereas you provided {value}.",
                param=name,
                code="invalid_value",
            )


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "you must provide a model parameter", param="model")
    return model


def _prompt(body: dict[str, Any]) -> Prompt:
    messages = body.get("messages")
    if messages is None:
        raise WireError(
            400, "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "Invalid 'messages': expected a non-empty array.", param="messages", code="empty_array")
    prompt = Prompt()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise WireError(400, f"Invalid 'messages[{i}]': expected an object with a 'role'.", param=f"messages[{i}]")
        text = _text(message.get("content"))
        calls = message.get("tool_calls")
        counted = text
        if isinstance(calls, list):
            counted = " ".join([text, *(_call_text(c) for c in calls)]).strip()
        prompt.message_texts.append(counted)
        if message["role"] == "user":
            prompt.last_user_text = text
    if messages[-1].get("role") in ("tool", "function"):
        prompt.tool_result = _text(messages[-1].get("content"))
    prompt.max_tokens = _max_tokens(body)
    stop = body.get("stop")
    prompt.stop = (
        [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    )
    n = body.get("n")
    prompt.n = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        prompt.json_mode = kind in ("json_object", "json_schema")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            prompt.json_schema = schema if isinstance(schema, dict) else {}
    prompt.tools = _tools(body.get("tools"))
    prompt.tool_choice = _tool_choice(body.get("tool_choice"))
    return prompt


def _text(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined with a space."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _call_text(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return ""
    return f"{function.get('name') or ''} {function.get('arguments') or ''}".strip()


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise WireError(400, f"Invalid '{name}': expected an integer of at least 1.", param=name)
        return value
    return None


def _tools(raw: Any) -> list[Tool]:
    tools = []
    for tool in raw if isinstance(raw, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            tools.append(Tool(function["name"], parameters if isinstance(parameters, dict) else {}))
    return tools


def _tool_choice(raw: Any) -> str:
    if raw == "none":
        return "none"
    if isinstance(raw, dict):
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str):
            return name
    return "auto"


def _embedding_inputs(raw: Any) -> list[tuple[bytes, int]]:
    """Each input as (hash key, token count): strings, token arrays, or lists of either."""
    if raw is None:
        raise WireError(400, "Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise WireError(400, "Invalid 'input': expected a string, an array of strings or token arrays.", param="input")
    if len(raw) > MAX_EMBEDDING_INPUTS:
        raise WireError(
            400,
            f"Invalid 'input': array too long. Expected an array with maximum length {MAX_EMBEDDING_INPUTS}, "
            f"but got an array with length {len(raw)} instead.",
            param="input",
            code="array_above_max_length",
        )
    inputs = []
    for item in raw:
        if isinstance(item, str) and item:
            inputs.append((item.encode(), tokens.count(item)))
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            inputs.append((_token_key(item), len(item)))
        else:
            raise WireError(
                400, "Invalid 'input': every input must be a non-empty string or token array.", param="input"
            )
    return inputs


def _token_key(ids: list[int]) -> bytes:
    """A token array embeds like the text it encodes (or, if it is not valid, like its JSON)."""
    try:
        return tokens.encoding().decode_bytes(ids)
    except (KeyError, ValueError, OverflowError):
        return orjson.dumps(ids)


WIRE = Wire(
    name="openai",
    routes=(
        Route("POST", "/v1/chat/completions", chat_completions),
        Route("POST", "/v1/embeddings", embeddings),
        Route("GET", "/v1/models", list_models, needs_body=False),
    ),
    authenticate=authenticate,
    render_error=render_error,
    invalid_json=(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
    ),
)
