"""A cached canonical answer as a stream: the chunks an OpenAI provider would have sent."""

from __future__ import annotations

from typing import Any


def as_chunks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A role-and-content chunk and a finish chunk per choice, then the usage chunk."""
    base = {"id": payload.get("id", "chatcmpl-cache"), "object": "chat.completion.chunk",
            "created": payload.get("created", 0), "model": payload.get("model", "")}  # fmt: skip
    chunks = []
    for choice in payload.get("choices") or ():
        message = choice.get("message") or {}
        index = choice.get("index", 0)
        delta = {"role": "assistant", "content": message.get("content") or ""}
        chunks.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}]})
    if payload.get("usage") is not None:
        chunks.append({**base, "choices": [], "usage": payload["usage"]})
    return chunks


class StreamAssembler:
    """Canonical stream chunks in, the complete answer out (None when it cannot be cached:
    tool calls, refusals, or no finish)."""

    def __init__(self) -> None:
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, str] = {}
        self._first: dict[str, Any] | None = None
        self._usage: dict[str, Any] | None = None
        self._cacheable = True

    def feed(self, chunk: dict[str, Any]) -> None:
        """Take one chunk (before the output policy touches it)."""
        if self._first is None:
            self._first = chunk
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            delta = choice.get("delta") or {}
            if delta.get("tool_calls") or delta.get("function_call") or delta.get("refusal"):
                self._cacheable = False
            if isinstance(delta.get("content"), str):
                self._texts.setdefault(index, []).append(delta["content"])
            if choice.get("finish_reason"):
                self._finish[index] = choice["finish_reason"]

    def completion(self) -> dict[str, Any] | None:
        """The answer as a `chat.completion`, or None."""
        if not self._cacheable or not self._finish or self._first is None:
            return None
        choices = [
            {"index": i, "message": {"role": "assistant", "content": "".join(self._texts.get(i, []))},
             "finish_reason": self._finish.get(i, "stop")}
            for i in sorted(set(self._texts) | set(self._finish))
        ]  # fmt: skip
        return {"id": self._first.get("id", ""), "object": "chat.completion", "created": self._first.get("created", 0),
                "model": self._first.get("model", ""), "choices": choices, "usage": self._usage}  # fmt: skip
