"""OpenAI-shaped dicts built from LiteLLM's response objects.

LiteLLM's `ModelResponse` and `ModelResponseStream` carry provider extras
(hidden params, grounding metadata, thinking blocks). The gateway answers
clients in OpenAI's shape: these functions keep OpenAI's fields and the few
widely used extensions (`reasoning_content`, token details).
"""

from __future__ import annotations

from typing import Any


def completion(response: Any) -> dict[str, Any]:
    """A chat.completion dict from a LiteLLM ModelResponse."""
    out: dict[str, Any] = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [_choice(choice) for choice in response.choices],
    }
    if getattr(response, "system_fingerprint", None):
        out["system_fingerprint"] = response.system_fingerprint
    usage_obj = getattr(response, "usage", None)
    if usage_obj is not None:
        out["usage"] = usage(usage_obj)
    return out


def _choice(choice: Any) -> dict[str, Any]:
    message = choice.message
    out_message: dict[str, Any] = {"role": message.role or "assistant", "content": message.content}
    if message.tool_calls:
        out_message["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
    if getattr(message, "function_call", None) is not None:
        out_message["function_call"] = _function(message.function_call)
    reasoning = getattr(message, "reasoning_content", None)
    if reasoning:
        out_message["reasoning_content"] = reasoning
    out: dict[str, Any] = {"index": choice.index, "message": out_message, "finish_reason": choice.finish_reason}
    logprobs = getattr(choice, "logprobs", None)
    out["logprobs"] = _dump(logprobs) if logprobs is not None else None
    return out


def _tool_call(call: Any) -> dict[str, Any]:
    return {"id": call.id, "type": call.type or "function", "function": _function(call.function)}


def _function(function: Any) -> dict[str, Any]:
    return {"name": function.name, "arguments": function.arguments}


def delta(delta_obj: Any) -> dict[str, Any]:
    """The non-empty fields of a LiteLLM streaming Delta (content, tool_calls, reasoning_content, function_call)."""
    out: dict[str, Any] = {}
    if delta_obj is None:
        return out
    content = delta_obj.content
    if content:
        out["content"] = content
    reasoning = getattr(delta_obj, "reasoning_content", None)
    if reasoning:
        out["reasoning_content"] = reasoning
    calls = delta_obj.tool_calls
    if calls:
        out["tool_calls"] = [_delta_tool_call(call, i) for i, call in enumerate(calls)]
    function_call = getattr(delta_obj, "function_call", None)
    if function_call is not None and (function_call.name or function_call.arguments):
        out["function_call"] = {k: v for k, v in _function(function_call).items() if v is not None}
    return out


def _delta_tool_call(call: Any, position: int) -> dict[str, Any]:
    index = getattr(call, "index", None)
    out: dict[str, Any] = {"index": index if isinstance(index, int) else position}
    if call.id:
        out["id"] = call.id
        out["type"] = call.type or "function"
    function = call.function
    fields: dict[str, Any] = {}
    if function is not None:
        if function.name:
            fields["name"] = function.name
        fields["arguments"] = function.arguments or ""
    out["function"] = fields
    return out


def usage(usage_obj: Any) -> dict[str, Any]:
    """OpenAI usage: token counts plus prompt/completion token details where reported."""
    prompt = usage_obj.prompt_tokens or 0
    completion_tokens = usage_obj.completion_tokens or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": usage_obj.total_tokens or prompt + completion_tokens,
    }
    for name in ("prompt_tokens_details", "completion_tokens_details"):
        details = _counts(getattr(usage_obj, name, None))
        if details:
            out[name] = details
    return out


def _counts(details: Any) -> dict[str, int]:
    if details is None:
        return {}
    values = details if isinstance(details, dict) else _dump(details)
    return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}


def embeddings(response: Any) -> dict[str, Any]:
    """An OpenAI embeddings list from a LiteLLM EmbeddingResponse."""
    data = []
    for position, item in enumerate(response.data or []):
        entry = item if isinstance(item, dict) else _dump(item)
        data.append(
            {"object": "embedding", "index": entry.get("index", position), "embedding": entry.get("embedding")}
        )
    out: dict[str, Any] = {"object": "list", "data": data, "model": response.model}
    usage_obj = getattr(response, "usage", None)
    if usage_obj is not None:
        prompt = usage_obj.prompt_tokens or 0
        out["usage"] = {"prompt_tokens": prompt, "total_tokens": usage_obj.total_tokens or prompt}
    return out


def _dump(value: Any) -> dict[str, Any]:
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else dict(value)
