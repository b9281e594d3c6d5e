"""Deterministic replies: every wire reduces its request to a `Prompt`, `answer` turns it into choices.

The text is "Fake reply to: <last user text>", cut at a stop sequence and at the
token limit; JSON mode answers a JSON object; with tools, one tool call whose
arguments the tool's schema accepts; after a tool result, a reply quoting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from extproc.fake_provider import schemas, tokens

Finish = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True, slots=True)
class Tool:
    """Tool is a function the caller offers: its name and its parameters' JSON schema."""

    name: str
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Prompt:
    """Prompt is a chat request reduced to what the fake answers from."""

    # One text per message (system prompt included), for counting prompt tokens.
    message_texts: list[str] = field(default_factory=list)
    last_user_text: str = ""
    # The content of a trailing tool result, if the conversation ends with one.
    tool_result: str | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    n: int = 1
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None
    tools: list[Tool] = field(default_factory=list)
    # "auto" (call the first tool), "none" (answer text) or the name of a forced tool.
    tool_choice: str = "auto"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """ToolCall is the one tool call of a tool-calling answer."""

    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """arguments_json is the arguments as the JSON string OpenAI sends."""
        return orjson.dumps(self.arguments).decode()


@dataclass(frozen=True, slots=True)
class Choice:
    """Choice is one generated answer."""

    text: str
    finish: Finish
    completion_tokens: int
    # The stop sequence that ended the text, if one did.
    stop_sequence: str | None = None
    tool_call: ToolCall | None = None


def answer(prompt: Prompt) -> list[Choice]:
    """answer generates the prompt's `n` choices."""
    call = _tool_call(prompt)
    if call is not None:
        used = tokens.count(call.name) + tokens.count(call.arguments_json)
        return [Choice(text="", finish="tool_calls", completion_tokens=used, tool_call=call)] * max(prompt.n, 1)
    plain = _plain_text(prompt)
    return [_finish(prompt, _render(prompt, plain if i == 0 else f"{plain} [{i}]")) for i in range(max(prompt.n, 1))]


def prompt_tokens(prompt: Prompt, per_message: int = 0, priming: int = 0) -> int:
    """prompt_tokens counts the prompt's text, plus `per_message` per message and `priming` once."""
    return sum(tokens.count(text) for text in prompt.message_texts) + per_message * len(prompt.message_texts) + priming


def completion_tokens(choices: list[Choice]) -> int:
    """completion_tokens is the tokens of all choices together."""
    return sum(choice.completion_tokens for choice in choices)


def _tool_call(prompt: Prompt) -> ToolCall | None:
    if not prompt.tools or prompt.tool_choice == "none" or prompt.tool_result is not None:
        return None
    tool = prompt.tools[0]
    if prompt.tool_choice != "auto":
        tool = next((t for t in prompt.tools if t.name == prompt.tool_choice), Tool(prompt.tool_choice))
    return ToolCall(name=tool.name, arguments=schemas.example_object(tool.schema))


def _plain_text(prompt: Prompt) -> str:
    if prompt.tool_result is not None:
        return f"Fake reply to tool result: {prompt.tool_result}"
    if prompt.last_user_text:
        return f"Fake reply to: {prompt.last_user_text}"
    return "Fake reply."


def _render(prompt: Prompt, text: str) -> str:
    if prompt.json_schema is not None:
        return orjson.dumps(schemas.example_object(prompt.json_schema)).decode()
    if prompt.json_mode:
        return orjson.dumps({"reply": text}).decode()
    return text


def _finish(prompt: Prompt, text: str) -> Choice:
    stopped: str | None = None
    cut = len(text)
    for sequence in prompt.stop:
        at = text.find(sequence) if sequence else -1
        if 0 <= at < cut:
            cut, stopped = at, sequence
    text = text[:cut]
    if prompt.max_tokens is not None:
        text, truncated = tokens.truncate(text, prompt.max_tokens)
        if truncated:
            return Choice(text=text, finish="length", completion_tokens=tokens.count(text))
    return Choice(text=text, finish="stop", completion_tokens=tokens.count(text), stop_sequence=stopped)
