"""Gemini's wire format: POST /v1beta/models/{model}:generateContent and :streamGenerateContent.

Streams are SSE (`?alt=sse`, events end in CRLF CRLF like Google's) or, without
it, one JSON array written element by element. Field names are accepted in
camelCase and snake_case, as Google's JSON mapping does (LiteLLM mixes both).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from extproc.fake_provider import replies, tokens
from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.faults import RETRY_AFTER_SECONDS, retry_headers
from extproc.fake_provider.replies import Choice, Prompt, Tool
from extproc.fake_provider.sending import JSON, EventStream, json_response
from extproc.fake_provider.wire import Call, Route, Wire, WireError, new_id

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
# Gemini refuses `maxOutputTokens` above the model's maximum output.
MAX_OUTPUT_TOKENS = {"gemini-2.5-flash": 65536, "gemini-2.5-pro": 65536, "gemini-2.0-flash": 8192}


def authenticate(request: web.Request, config: FakeConfig) -> WireError | None:
    """authenticate requires an API key in `x-goog-api-key` or the `key` query parameter."""
    key = (request.headers.get("x-goog-api-key") or request.query.get("key") or "").strip()
    if not key:
        return WireError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if config.required_key is not None and key != config.required_key:
        return WireError(400, "API key not valid. Please pass a valid API key.", code="API_KEY_INVALID")
    return None


def render_error(error: WireError) -> web.Response:
    """render_error answers `{"error": {"code", "message", "status"}}` (with details where Google adds them)."""
    status = error.status
    body: dict[str, Any] = {
        "code": status,
        "message": error.message or _MESSAGES.get(status, f"Request failed with status {status}."),
        "status": error.type or _STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
    }
    if error.code is not None:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": error.code,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
    elif status == 429:
        body["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{RETRY_AFTER_SECONDS}s"}
        ]
    return web.Response(
        body=orjson.dumps({"error": body}), status=status, content_type=JSON, headers=retry_headers(status)
    )


async def models(call: Call) -> web.StreamResponse:
    """models answers POST /v1beta/models/{model}:{method}."""
    model, _, method = call.request.match_info["model_method"].rpartition(":")
    if method not in ("generateContent", "streamGenerateContent") or not model:
        raise WireError(404, f"Method {method!r} is not found for model {model!r}.")
    prompt = _prompt(call.body)
    most = next((v for k, v in MAX_OUTPUT_TOKENS.items() if model == k or model.startswith(k + "-")), None)
    if most is not None and prompt.max_tokens is not None and prompt.max_tokens > most:
        raise WireError(
            400,
            f"Unable to submit request because it has a maxOutputTokens value of {prompt.max_tokens} but the "
            f"supported range is from 1 (inclusive) to {most + 1} (exclusive). Update the value and try again.",
        )
    choices = replies.answer(prompt)
    prompt_tokens = replies.prompt_tokens(prompt)
    head = {"modelVersion": model, "responseId": new_id("", 22)}
    if method == "streamGenerateContent":
        return await _stream(call, head, choices, prompt_tokens)
    payload = {
        "candidates": [_candidate(i, choice, _parts(choice), final=True) for i, choice in enumerate(choices)],
        "usageMetadata": _usage(prompt_tokens, replies.completion_tokens(choices)),
        **head,
    }
    return json_response(call.request, call.faults, payload)


async def _stream(call: Call, head: dict[str, Any], choices: list[Choice], prompt_tokens: int) -> web.StreamResponse:
    sse = call.request.query.get("alt") == "sse"
    stream = EventStream(call.request, call.faults, content_type="text/event-stream" if sse else JSON)
    await stream.start()
    chunks: list[dict[str, Any]] = []
    size = call.config.chunk_tokens
    for index, choice in enumerate(choices):
        if choice.tool_call is not None:
            pieces = [_parts(choice)]
        else:
            pieces = [[{"text": piece}] for piece in tokens.pieces(choice.text, size)] or [[{"text": ""}]]
        for n, parts in enumerate(pieces):
            final = n == len(pieces) - 1
            chunks.append({"candidates": [_candidate(index, choice, parts, final)]})
    partial = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
    complete = _usage(prompt_tokens, replies.completion_tokens(choices))
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        data = orjson.dumps({**chunk, "usageMetadata": complete if last else partial, **head})
        if sse:
            await stream.send(b"data: " + data + b"\r\n\r\n")
        else:
            await stream.send((b"[" if n == 0 else b",\r\n") + data + (b"]" if last else b""))
    return await stream.finish()


def _candidate(index: int, choice: Choice, parts: list[dict[str, Any]], final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if final:
        candidate["finishReason"] = _FINISH[choice.finish]
    candidate["index"] = index
    return candidate


def _parts(choice: Choice) -> list[dict[str, Any]]:
    if choice.tool_call is not None:
        return [{"functionCall": {"name": choice.tool_call.name, "args": choice.tool_call.arguments}}]
    return [{"text": choice.text}]


def _usage(prompt_tokens: int, candidates_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }


def _get(mapping: Any, camel: str) -> Any:
    """A field by its camelCase name or its snake_case twin."""
    if not isinstance(mapping, dict):
        return None
    if camel in mapping:
        return mapping[camel]
    return mapping.get("".join(f"_{c.lower()}" if c.isupper() else c for c in camel))


def _prompt(body: dict[str, Any]) -> Prompt:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    prompt = Prompt()
    system = _text(_get(body, "systemInstruction"))
    if system:
        prompt.message_texts.append(system)
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
            raise WireError(400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
        prompt.message_texts.append(_counted_text(content))
        if content.get("role", "user") == "user" and _text(content):
            prompt.last_user_text = _text(content)
    responses = [_get(p, "functionResponse") for p in contents[-1]["parts"] if _get(p, "functionResponse")]
    if responses:
        prompt.tool_result = " ".join(_response_text(r) for r in responses)
    config = _get(body, "generationConfig") or {}
    max_tokens = _get(config, "maxOutputTokens")
    prompt.max_tokens = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
    stop = _get(config, "stopSequences")
    prompt.stop = [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    count = _get(config, "candidateCount")
    prompt.n = count if isinstance(count, int) and count > 0 else 1
    if _get(config, "responseMimeType") == "application/json":
        prompt.json_mode = True
        schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
        prompt.json_schema = schema if isinstance(schema, dict) else None
    prompt.tools = _tools(body.get("tools"))
    prompt.tool_choice = _tool_choice(_get(body, "toolConfig"))
    return prompt


def _text(content: Any) -> str:
    """The text parts of a content, joined with a space."""
    parts = _get(content, "parts")
    if not isinstance(parts, list):
        return ""
    return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _counted_text(content: dict[str, Any]) -> str:
    texts = []
    for part in content["parts"]:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif call := _get(part, "functionCall"):
            texts.append(f"{call.get('name') or ''} {orjson.dumps(call.get('args') or {}).decode()}")
        elif response := _get(part, "functionResponse"):
            texts.append(_response_text(response))
    return " ".join(texts)


def _response_text(response: Any) -> str:
    value = response.get("response") if isinstance(response, dict) else None
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("content"), str):
        return str(value["content"])
    return orjson.dumps(value).decode() if value is not None else ""


def _tools(raw: Any) -> list[Tool]:
    tools = []
    for entry in raw if isinstance(raw, list) else []:
        for declaration in _get(entry, "functionDeclarations") or []:
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                schema = _get(declaration, "parametersJsonSchema") or declaration.get("parameters")
                tools.append(Tool(declaration["name"], schema if isinstance(schema, dict) else {}))
    return tools


def _tool_choice(tool_config: Any) -> str:
    calling = _get(tool_config, "functionCallingConfig")
    mode = str(_get(calling, "mode") or "AUTO").upper()
    if mode == "NONE":
        return "none"
    allowed = _get(calling, "allowedFunctionNames")
    if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
        return allowed[0]
    return "auto"


WIRE = Wire(
    name="gemini",
    routes=(
        Route("POST", "/v1beta/models/{model_method}", models),
        Route("POST", "/v1/models/{model_method}", models),
    ),
    authenticate=authenticate,
    render_error=render_error,
    invalid_json="Invalid JSON payload received. Unexpected token.",
)
