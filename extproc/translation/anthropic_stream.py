"""Canonical stream chunks to Anthropic's SSE event sequence, one chunk at a time (see `StreamToAnthropic`)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from litellm.llms.anthropic.common_utils import normalize_anthropic_tool_use_id
from litellm.llms.anthropic.pass_through.messages.utils import refusal_stop_details

from extproc.translation.anthropic_messages import (
    ADAPTER,
    ZERO_CACHE,
    anthropic_type,
    anthropic_usage,
    matched_stop_sequence,
    message_id,
)


class StreamToAnthropic:
    """StreamToAnthropic turns canonical (OpenAI) stream chunks into Anthropic's SSE events, incrementally.

    Events: `message_start` on the first chunk; for each text, thinking or
    tool call a `content_block_start`, its deltas as they arrive
    (`text_delta`, `thinking_delta`/`signature_delta`, `input_json_delta`) and
    a `content_block_stop` as soon as the next block or the finish reason
    shows it is complete; `message_delta` (stop reason and the full usage)
    once both the finish reason and the usage chunk were seen; `message_stop`
    from `close`.

    Written here rather than driving LiteLLM's `AnthropicStreamWrapper`,
    because that wrapper pulls from an iterator of `ModelResponseStream`
    objects, while Envoy pushes us bytes a chunk at a time: using it would mean
    suspending its pull loop between `feed` calls, building a pydantic object
    per chunk (about 30 us; the wrapper costs about 115 us a chunk in all,
    this class 2-5 us), and accepting that it ends the stream silently on any
    exception. Its per-chunk rules are kept (blank role chunks open nothing, a
    chunk carrying both content and a finish reason is content first, a new
    tool call id opens a new block) and the unit tests check the two agree
    event for event; the stop-reason mapping is LiteLLM's own, the usage
    mapping (`anthropic_usage`) follows LiteLLM's and is tested against it.
    """

    __slots__ = (
        "_model",
        "_tool_names",
        "_input_estimate",
        "_started",
        "_ended",
        "_index",
        "_open",
        "_tool_blocks",
        "_tool_ids",
        "_stop_reason",
        "stop_sequence",
        "_refusal",
        "_usage",
        "_extensions",
        "_delta_sent",
    )

    def __init__(
        self, requested_model: str, tool_names: Mapping[str, str] | None = None, input_tokens: int = 0
    ) -> None:
        """`tool_names` is `tool_name_mapping(request)`; `input_tokens` is an estimate shown in `message_start`."""
        self._model = requested_model
        self._tool_names = tool_names or {}
        self._input_estimate = input_tokens
        self._started = False
        self._ended = False
        # Index of the next content block, and the kind of the open one (None: no block open).
        self._index = 0
        self._open: str | None = None
        # OpenAI tool call index -> Anthropic block index, and the call's id.
        self._tool_blocks: dict[int, int] = {}
        self._tool_ids: dict[int, str | None] = {}
        self._stop_reason: str | None = None
        self.stop_sequence: str | None = None
        self._refusal = ""
        self._usage: dict[str, Any] | None = None
        self._extensions: dict[str, Any] = {}
        self._delta_sent = False

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """feed returns the Anthropic events (possibly none) for one OpenAI chunk."""
        if self._ended:
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start(chunk))
        error = chunk.get("error")
        if error is not None and not chunk.get("choices"):
            message = error.get("message") if isinstance(error, dict) else str(error)
            type_ = error.get("type") if isinstance(error, dict) else None
            out.append(self.error_event(str(message or "The provider failed mid-stream."), str(type_ or "api_error")))
            return b"".join(out)
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, out)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
            self._extensions.update((k, v) for k, v in chunk.items() if k.startswith("x_"))
        if self._stop_reason is not None and self._usage is not None and not self._delta_sent:
            out.append(self._message_delta())
        return b"".join(out)

    def close(self) -> bytes:
        """close ends the stream: closes an open block, sends `message_delta` if not yet sent, then `message_stop`."""
        if self._ended:
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start({}))
        self._close_block(out)
        if not self._delta_sent:
            out.append(self._message_delta())
        out.append(_event("message_stop", {"type": "message_stop"}))
        self._ended = True
        return b"".join(out)

    def error_event(self, message: str, type_: str) -> bytes:
        """error_event is Anthropic's `event: error` for a failure after the stream started; nothing follows it."""
        self._ended = True
        return _event("error", {"type": "error", "error": {"type": anthropic_type(type_, 500), "message": message}})

    def _message_start(self, chunk: Mapping[str, Any]) -> bytes:
        self._started = True
        usage = {"input_tokens": self._input_estimate, "output_tokens": 0, **ZERO_CACHE}
        message: dict[str, Any] = {
            "id": message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: Mapping[str, Any], out: list[bytes]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._thinking(delta, out)
            for key in ("content", "refusal"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    if key == "refusal":
                        self._refusal += text
                    self._ensure_open("text", {"type": "text", "text": ""}, out)
                    out.append(self._delta({"type": "text_delta", "text": text}))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call, out)
        finish = choice.get("finish_reason")
        if finish and self._stop_reason is None:
            self._close_block(out)
            self._stop_reason = ADAPTER._translate_openai_finish_reason_to_anthropic(finish)
            if self._refusal and self._stop_reason != "max_tokens":
                self._stop_reason = "refusal"
            self.stop_sequence = matched_stop_sequence(choice)
            if self.stop_sequence is not None:
                self._stop_reason = "stop_sequence"

    def _thinking(self, delta: Mapping[str, Any], out: list[bytes]) -> None:
        # LiteLLM's translated streams carry reasoning as `reasoning_content`
        # and, for Anthropic-style thinking, `thinking_blocks` with the signature.
        text = delta.get("reasoning_content")
        blocks = delta.get("thinking_blocks")
        block_text = signature = ""
        if isinstance(blocks, list):
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "thinking":
                    block_text += block.get("thinking") or ""
                    signature += block.get("signature") or ""
        if not isinstance(text, str) or not text:
            text = block_text
        if not text and not signature:
            return
        self._ensure_open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
        if text:
            out.append(self._delta({"type": "thinking_delta", "thinking": text}))
        if signature:
            out.append(self._delta({"type": "signature_delta", "signature": signature}))

    def _tool_call(self, call: Mapping[str, Any], out: list[bytes]) -> None:
        position = call["index"] if isinstance(call.get("index"), int) else 0
        call_id = call.get("id")
        function: Mapping[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
        known = position in self._tool_blocks and (not call_id or call_id == self._tool_ids[position])
        if not known:
            name = function.get("name") or ""
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": normalize_anthropic_tool_use_id(call_id) if call_id else f"toolu_{secrets.token_hex(12)}",
                "name": self._tool_names.get(name, name),
                "input": {},
            }
            self._close_block(out)
            self._tool_blocks[position], self._tool_ids[position] = self._index, call_id
            self._start_block("tool_use", block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            event = {
                "type": "content_block_delta",
                "index": self._tool_blocks[position],
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
            out.append(_event("content_block_delta", event))

    def _ensure_open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        if self._open != kind:
            self._close_block(out)
            self._start_block(kind, block, out)

    def _start_block(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        out.append(
            _event("content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block})
        )
        self._open = kind
        self._index += 1

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": self._index - 1}))
            self._open = None

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": self._index - 1, "delta": delta})

    def _message_delta(self) -> bytes:
        self._delta_sent = True
        usage: dict[str, Any] = {"input_tokens": self._input_estimate, "output_tokens": 0, **ZERO_CACHE}
        if self._usage is not None:
            usage.update(anthropic_usage(self._usage))
        delta: dict[str, Any] = {"stop_reason": self._stop_reason, "stop_sequence": self.stop_sequence}
        if self._stop_reason == "refusal":
            delta["stop_details"] = dict(refusal_stop_details(self._refusal))
        event = {
            "type": "message_delta",
            "delta": delta,
            "usage": usage,
            **self._extensions,
        }
        return _event("message_delta", event)

def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
