"""The fake provider's Anthropic wire, as the real `anthropic` SDK sees it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from extproc.fake_provider import FakeConfig
from extproc.fake_provider import tokens as fake_tokens
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running
from tests.support.sdk_clients import anthropic_client

MODEL = "claude-haiku-4-5"
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
LONG = "Describe, in detail, how a lighthouse lens focuses the light of a small lamp into a beam."


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server


def client(server: FakeServer, key: str = "sk-ant-test") -> anthropic.Anthropic:
    return anthropic_client(server.url, key)


def count(text: str) -> int:
    return len(fake_tokens.encoding().encode(text))


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_text_message_and_usage(fake: FakeServer) -> None:
    message = client(fake).messages.create(
        model=MODEL,
        max_tokens=200,
        system="Be brief.",
        messages=user("Hello there"),  # type: ignore[arg-type]
    )
    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert len(message.content) == 1 and message.content[0].type == "text"
    assert message.content[0].text == "Fake reply to: Hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == count("Be brief.") + count("Hello there")
    assert message.usage.output_tokens == count("Fake reply to: Hello there")
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0


def test_block_content_and_system_blocks(fake: FakeServer) -> None:
    content = [
        {"type": "text", "text": "What is"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "this?"},
    ]
    message = client(fake).messages.create(
        model=MODEL,
        max_tokens=200,
        system=[{"type": "text", "text": "Sys"}],
        messages=[{"role": "user", "content": content}],  # type: ignore[list-item]
    )
    assert message.content[0].text == "Fake reply to: What is this?"  # type: ignore[union-attr]


def test_max_tokens_and_stop_sequences(fake: FakeServer) -> None:
    api = client(fake)
    cut = api.messages.create(model=MODEL, max_tokens=4, messages=user(LONG))  # type: ignore[arg-type]
    assert cut.stop_reason == "max_tokens"
    assert count(cut.content[0].text) == 4 == cut.usage.output_tokens  # type: ignore[union-attr]
    stopped = api.messages.create(model=MODEL, max_tokens=200, messages=user(LONG), stop_sequences=["lens"])  # type: ignore[arg-type]
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "lens"
    assert stopped.content[0].text == "Fake reply to: Describe, in detail, how a lighthouse "  # type: ignore[union-attr]


def test_tool_use(fake: FakeServer) -> None:
    message = client(fake).messages.create(model=MODEL, max_tokens=200, messages=user("weather?"), tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.id.startswith("toolu_")
    assert block.name == "get_weather"
    assert block.input == {"city": "fake city", "days": 1}


def test_tool_choice_named_and_none(fake: FakeServer) -> None:
    other = {"name": "lookup", "input_schema": {"type": "object", "properties": {}}}
    api = client(fake)
    named = api.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user("x"),
        tools=[WEATHER, other],
        tool_choice={"type": "tool", "name": "lookup"},  # type: ignore[arg-type,list-item]
    )
    assert named.content[0].type == "tool_use" and named.content[0].name == "lookup"
    none = api.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user("x"),
        tools=[WEATHER],
        tool_choice={"type": "none"},  # type: ignore[arg-type,list-item]
    )
    assert none.content[0].type == "text" and none.stop_reason == "end_turn"


def test_tool_result_gets_a_text_answer(fake: FakeServer) -> None:
    messages = [
        *user("weather?"),
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "-3 C"}]}
            ],
        },
    ]
    message = client(fake).messages.create(model=MODEL, max_tokens=200, messages=messages, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert message.stop_reason == "end_turn"
    assert message.content[0].text == "Fake reply to tool result: -3 C"  # type: ignore[union-attr]


def test_stream_event_sequence(fake: FakeServer) -> None:
    with client(fake).messages.stream(model=MODEL, max_tokens=200, messages=user(LONG)) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    raw = [k for k in kinds if k not in ("text",)]  # the helper adds "text" convenience events
    assert raw[:3] == ["message_start", "content_block_start", "content_block_delta"]
    assert raw[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert raw.count("content_block_delta") > 5
    assert final.content[0].text == "Fake reply to: " + LONG  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count("Fake reply to: " + LONG)
    assert final.usage.input_tokens == count(LONG)


def test_raw_stream_has_exact_wire_format(fake: FakeServer) -> None:
    response = httpx.post(
        fake.url + "/v1/messages",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 50, "stream": True, "messages": user("hi")},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    names = [e.split("\n")[0] for e in events]
    assert names[:3] == ["event: message_start", "event: content_block_start", "event: ping"]
    assert names[-1] == "event: message_stop"
    assert all(e.split("\n")[1].startswith("data: {") for e in events)


def test_streamed_tool_use(fake: FakeServer) -> None:
    with client(fake).messages.stream(model=MODEL, max_tokens=200, messages=user("w"), tools=[WEATHER]) as stream:  # type: ignore[arg-type,list-item]
        events = list(stream)
        final = stream.get_final_message()
    assert sum(1 for e in events if e.type == "input_json") > 1
    assert final.content[0].type == "tool_use" and final.content[0].input == {"city": "fake city", "days": 1}
    assert final.stop_reason == "tool_use"


async def test_async_client(fake: FakeServer) -> None:
    async with anthropic.AsyncAnthropic(base_url=fake.url, api_key="k", max_retries=0) as aclient:
        message = await aclient.messages.create(model=MODEL, max_tokens=100, messages=user("async"))  # type: ignore[arg-type]
        async with aclient.messages.stream(model=MODEL, max_tokens=100, messages=user("async")) as stream:  # type: ignore[arg-type]
            final = await stream.get_final_message()
    assert message.content[0].text == final.content[0].text == "Fake reply to: async"  # type: ignore[union-attr]


def test_x_api_key_header_works_and_is_redacted(fake: FakeServer) -> None:
    response = httpx.post(
        fake.url + "/v1/messages",
        headers={"x-api-key": "sk-ant-secret", "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 50, "messages": user("hi")},
    )
    assert response.status_code == 200
    assert "sk-ant-secret" not in httpx.get(fake.url + "/_fake/requests").text


@pytest.mark.parametrize(
    ("headers", "body", "status", "kind"),
    [
        (
            {"anthropic-version": "2023-06-01"},
            {"model": MODEL, "max_tokens": 5, "messages": user("x")},
            401,
            "authentication_error",
        ),
        ({"x-api-key": "k"}, {"model": MODEL, "max_tokens": 5, "messages": user("x")}, 400, "invalid_request_error"),
        (
            {"x-api-key": "k", "anthropic-version": "2023-06-01"},
            {"model": MODEL, "messages": user("x")},
            400,
            "invalid_request_error",
        ),
        (
            {"x-api-key": "k", "anthropic-version": "2023-06-01"},
            {"model": MODEL, "max_tokens": 5},
            400,
            "invalid_request_error",
        ),
    ],
)
def test_errors_in_anthropic_shape(
    fake: FakeServer, headers: dict[str, str], body: dict[str, object], status: int, kind: str
) -> None:
    response = httpx.post(fake.url + "/v1/messages", headers=headers, json=body)
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == kind and payload["error"]["message"]


def test_missing_max_tokens_message(fake: FakeServer) -> None:
    response = httpx.post(
        fake.url + "/v1/messages",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "messages": user("x")},
    )
    assert response.json()["error"]["message"] == "max_tokens: Field required"


def test_required_key() -> None:
    with running(FakeConfig(required_key="right")) as server:
        with pytest.raises(anthropic.AuthenticationError):
            client(server, "wrong").messages.create(model=MODEL, max_tokens=5, messages=user("x"))  # type: ignore[arg-type]
        assert client(server, "right").messages.create(model=MODEL, max_tokens=5, messages=user("x")).content  # type: ignore[arg-type]
