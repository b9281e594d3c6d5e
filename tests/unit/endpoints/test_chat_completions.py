"""`POST /v1/chat/completions`: request validation, the usage chunk request, usage reading."""

from __future__ import annotations

from typing import Any

import pytest

from extproc.cost.usage import usage_from_openai
from extproc.endpoints.base import ParsedRequest
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.errors import GatewayError

SPEC = ChatCompletions()
USER = [{"role": "user", "content": "hi"}]


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "fast", "messages": USER, **fields}


def test_minimal_body_is_not_a_stream() -> None:
    assert SPEC.parse(_body()) == ParsedRequest(model="fast", stream=False, stream_usage=False)


@pytest.mark.parametrize(
    ("fields", "stream", "stream_usage"),
    [
        ({"stream": True}, True, False),
        ({"stream": None}, False, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, True, True),
        ({"stream": True, "stream_options": {"include_usage": False}}, True, False),
        ({"stream": True, "stream_options": {}}, True, False),
    ],
)
def test_stream_flags(fields: dict[str, Any], stream: bool, stream_usage: bool) -> None:
    parsed = SPEC.parse(_body(**fields))
    assert (parsed.stream, parsed.stream_usage) == (stream, stream_usage)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        [{"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}, {"role": "tool", "content": "42"}],
        [{"role": "developer", "content": "x"}, {"role": "user", "content": "hi"}],
    ],
)
def test_valid_message_shapes_parse(messages: list[Any]) -> None:
    assert SPEC.parse({"model": "m", "messages": messages}).model == "m"


def test_every_documented_range_edge_is_accepted() -> None:
    body = _body(
        max_tokens=1, max_completion_tokens=1, n=128, temperature=2, top_p=0.0,
        presence_penalty=-2.0, frequency_penalty=2, tools=[], stop=["a", "b"],
    )  # fmt: skip
    assert SPEC.parse(body).model == "fast"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([USER], None),
        ("text", None),
        ({"messages": USER}, "model"),
        (_body(model=""), "model"),
        (_body(model="   "), "model"),
        (_body(model=4), "model"),
        ({"model": "m"}, "messages"),
        (_body(messages=[]), "messages"),
        (_body(messages={"role": "user"}), "messages"),
        (_body(messages=["hi"]), "messages[0]"),
        (_body(messages=[{"content": "hi"}]), "messages[0].role"),
        (_body(messages=[*USER, {"role": "robot", "content": "x"}]), "messages[1].role"),
        (_body(messages=[{"role": "user"}]), "messages[0].content"),
        (_body(messages=[{"role": "user", "content": 3}]), "messages[0].content"),
        (_body(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages[0].content"),
        (_body(stream="yes"), "stream"),
        (_body(stream=1), "stream"),
        (_body(stream=True, stream_options=[]), "stream_options"),
        (_body(stream_options={"include_usage": True}), "stream_options"),
        (_body(stream=False, stream_options={"include_usage": True}), "stream_options"),
        (_body(max_tokens=0), "max_tokens"),
        (_body(max_tokens=1.5), "max_tokens"),
        (_body(max_tokens=True), "max_tokens"),
        (_body(max_completion_tokens=-1), "max_completion_tokens"),
        (_body(n=0), "n"),
        (_body(n=129), "n"),
        (_body(temperature=2.01), "temperature"),
        (_body(temperature="hot"), "temperature"),
        (_body(temperature=False), "temperature"),
        (_body(top_p=1.1), "top_p"),
        (_body(presence_penalty=-2.5), "presence_penalty"),
        (_body(frequency_penalty=3), "frequency_penalty"),
        (_body(tools={"type": "function"}), "tools"),
        (_body(tools=["f"]), "tools"),
        (_body(stop=5), "stop"),
        (_body(stop=["a", 1]), "stop"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(body: Any, param: str | None) -> None:
    with pytest.raises(GatewayError) as raised:
        SPEC.parse(body)
    assert raised.value.status == 400
    assert raised.value.param == param
    assert raised.value.code == "invalid_request"


def test_out_of_range_message_shows_the_bounds_and_the_value() -> None:
    with pytest.raises(GatewayError, match="between 1 and 128; got 500"):
        SPEC.parse(_body(n=500))


# --- prepare_upstream -----------------------------------------------------------


def test_stream_without_usage_request_gets_include_usage() -> None:
    body = _body(stream=True)
    assert SPEC.prepare_upstream(body, SPEC.parse(body)) is True
    assert body["stream_options"] == {"include_usage": True}


def test_other_stream_options_are_kept_when_usage_is_added() -> None:
    body = _body(stream=True, stream_options={"include_obfuscation": False, "include_usage": False})
    assert SPEC.prepare_upstream(body, SPEC.parse(body)) is True
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}


@pytest.mark.parametrize("fields", [{}, {"stream": False}, {"stream": True, "stream_options": {"include_usage": True}}])
def test_bodies_that_need_nothing_are_left_alone(fields: dict[str, Any]) -> None:
    body = _body(**fields)
    before = {**body, "stream_options": dict(body["stream_options"])} if "stream_options" in body else dict(body)
    assert SPEC.prepare_upstream(body, SPEC.parse(body)) is False
    assert body == before


# --- usage ----------------------------------------------------------------------


def test_usage_reads_prompt_completion_and_cached_tokens() -> None:
    payload = {
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 7,
            "total_tokens": 127,
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    }
    usage = usage_from_openai(payload)
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (120, 7, 100)
    assert usage.total_tokens == 127 and usage.model == "gpt-4o-mini-2024-07-18"


def test_usage_without_details_has_no_cached_tokens() -> None:
    usage = usage_from_openai({"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    assert usage is not None and (usage.cached_tokens, usage.model) == (0, None)


@pytest.mark.parametrize("payload", [{}, {"usage": None}, {"choices": [{"delta": {"content": "x"}}]}])
def test_no_usage_object_is_none(payload: dict[str, Any]) -> None:
    assert usage_from_openai(payload) is None


def test_nonsense_token_counts_count_as_zero() -> None:
    usage = usage_from_openai({"usage": {"prompt_tokens": -5, "completion_tokens": "9", "prompt_tokens_details": None}})
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (0, 0, 0)
