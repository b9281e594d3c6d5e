"""Anthropic Messages <-> OpenAI chat translation, checked with the real SDKs, LiteLLM and the fake provider.

The `anthropic` SDK (2.x sends through `httpx2`, so its `http_client` is an
`httpx2.Client`) talks to a small in-test gateway, an `httpx2.MockTransport`
handler that does what the gateway does for `/v1/messages`: `to_openai`, the
fake provider's OpenAI endpoint, then `from_openai` or `StreamToAnthropic`.
The fake provider's own Anthropic endpoint answers the same prompts directly,
for comparison.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from litellm.llms.anthropic.pass_through.adapters import LiteLLMAnthropicMessagesAdapter
from litellm.llms.anthropic.pass_through.adapters.streaming_iterator import AnthropicStreamWrapper
from litellm.types.utils import ModelResponseStream
from litellm.types.utils import Usage as LiteLLMUsage
from openai.types.chat import completion_create_params
from pydantic import TypeAdapter

from extproc.errors import GatewayError
from extproc.fake_provider import FakeConfig
from extproc.fake_provider import tokens as fake_tokens
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running
from extproc.formats.sse import SSEParser
from extproc.translation import anthropic_messages as am
from extproc.translation.anthropic_stream import StreamToAnthropic

CLAUDE = "claude-haiku-4-5"
GPT = "gpt-4o-mini"
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
LOOKUP = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
LONG = "Describe, in detail, how a lighthouse lens focuses the light of a small lamp into a beam."
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def request(**fields: Any) -> dict[str, Any]:
    return {"model": CLAUDE, "max_tokens": 200, "messages": user("Hello there"), **fields}


def count(text: str) -> int:
    return len(fake_tokens.encoding().encode(text))


# --- helpers: the fake's OpenAI endpoint, a mini gateway, SDK clients ---------


def openai_chunks(http: httpx.Client, fake: FakeServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The fake provider's stream for an OpenAI request, as the chunk dicts its SSE carries."""
    response = http.post(f"{fake.url}/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    chunks = []
    for _, data in SSEParser().feed(response.content):
        if data is not None and data != b"[DONE]":
            chunks.append(orjson.loads(data))
    return chunks


def convert(chunks: list[dict[str, Any]], model: str = CLAUDE, **options: Any) -> bytes:
    events = StreamToAnthropic(model, **options)
    return b"".join(events.feed(chunk) for chunk in chunks) + events.close()


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """Anthropic SSE bytes -> event dicts, checking each `event:` name matches its data's type."""
    events = []
    for frame, data in SSEParser().feed(raw):
        assert data is not None
        event = orjson.loads(data)
        assert frame.startswith(b"event: " + event["type"].encode() + b"\n")
        events.append(event)
    return events


Handler = Callable[[httpx2.Request], httpx2.Response]


def sdk(handler: Handler) -> anthropic.Anthropic:
    """An Anthropic client whose every request is answered by `handler`; use it in a `with` block."""
    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://gateway.test",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def serve_bytes(body: bytes, status: int = 200, content_type: str = "text/event-stream") -> Handler:
    return lambda _request: httpx2.Response(status, content=body, headers={"content-type": content_type})


def mini_gateway(http: httpx.Client, fake: FakeServer, seen: list[dict[str, Any]] | None = None) -> Handler:
    """What the gateway does for POST /v1/messages, with the fake's OpenAI endpoint as the provider."""

    def handle(incoming: httpx2.Request) -> httpx2.Response:
        anthropic_request = json.loads(incoming.content)
        try:
            body = am.to_openai(anthropic_request)
        except GatewayError as error:
            return reply_json(error.status, am.from_openai_error(error.status, error.body()))
        if seen is not None:
            seen.append(body)
        model = anthropic_request["model"]
        names = am.tool_name_mapping(anthropic_request)
        if body.get("stream"):
            return httpx2.Response(
                200,
                content=convert(openai_chunks(http, fake, body), model, tool_names=names),
                headers={"content-type": "text/event-stream"},
            )
        upstream = http.post(f"{fake.url}/v1/chat/completions", json=body, headers=AUTH)
        if upstream.status_code != 200:
            return reply_json(upstream.status_code, am.from_openai_error(upstream.status_code, upstream.content))
        return reply_json(200, orjson.dumps(am.from_openai(upstream.json(), model, names)))

    return handle


def reply_json(status: int, body: bytes) -> httpx2.Response:
    return httpx2.Response(status, content=body, headers={"content-type": "application/json"})


def direct(fake: FakeServer) -> anthropic.Anthropic:
    """An Anthropic client for the fake provider's own Anthropic endpoint."""
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=fake.url, max_retries=0)


# --- requests -----------------------------------------------------------------

_STREAMING = completion_create_params.CompletionCreateParamsStreaming
OPENAI_KEYS = _STREAMING.__optional_keys__ | _STREAMING.__required_keys__
# Keys LiteLLM's adapter writes that are not OpenAI's: `top_k` (honoured by
# Anthropic, Gemini, vLLM...) and `thinking` (kept for Claude models).
PROVIDER_KEYS = {"top_k", "thinking"}


def litellm_expected(anthropic_request: dict[str, Any]) -> dict[str, Any]:
    """What LiteLLM's adapter makes of a request, with the corrections the module documents."""
    expected, _ = LiteLLMAnthropicMessagesAdapter().translate_anthropic_to_openai(copy.deepcopy(anthropic_request))  # type: ignore[arg-type]
    expected = dict(expected)
    expected["messages"] = [
        {k: v for k, v in m.items() if not (k == "thinking_blocks" and v is None)} for m in expected["messages"]
    ]
    if expected.get("stream"):
        expected["stream_options"] = {"include_usage": True}
    return expected


def assert_valid_openai(body: dict[str, Any]) -> None:
    """The body type-checks as the openai SDK's create params, and carries no key OpenAI does not know."""
    params = (
        completion_create_params.CompletionCreateParamsStreaming
        if body.get("stream")
        else completion_create_params.CompletionCreateParamsNonStreaming
    )
    TypeAdapter(params).validate_python(body)
    assert set(body) - OPENAI_KEYS <= PROVIDER_KEYS
    roles = {
        "system": {"role", "content", "name"},
        "user": {"role", "content", "name"},
        "tool": {"role", "content", "tool_call_id"},
    }
    roles["assistant"] = {"role", "content", "tool_calls", "name", "refusal", "audio", "function_call"}
    for message in body["messages"]:
        assert set(message) <= roles[message["role"]], message
        for part in message["content"] if isinstance(message.get("content"), list) else ():
            assert set(part) <= {"type", "text", "image_url"}, part
    for tool in body.get("tools") or ():
        assert set(tool) == {"type", "function"} and set(tool["function"]) <= {
            "name",
            "description",
            "parameters",
            "strict",
        }


FULL = request(
    system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
    messages=[
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo", "days": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "-3 C"}]},
                {"type": "text", "text": "And this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ],
        },
    ],
    tools=[WEATHER, LOOKUP],
    stop_sequences=["END"],
    temperature=0.2,
    top_p=0.9,
    metadata={"user_id": "user-42"},
)


@pytest.mark.parametrize(
    "anthropic_request",
    [
        request(),
        request(system="Be brief.", stream=True),
        FULL,
        {**FULL, "model": GPT, "stream": True},
        request(tools=[WEATHER], tool_choice={"type": "any"}),
        request(tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"}),
        request(tools=[WEATHER], tool_choice={"type": "none"}),
        request(top_k=5, temperature=1),
    ],
    ids=["minimal", "system-stream", "full-claude", "full-gpt-stream", "any", "named", "none", "top_k"],
)
def test_request_is_litellm_adapter_output_and_valid_openai(anthropic_request: dict[str, Any]) -> None:
    original = copy.deepcopy(anthropic_request)
    body = am.to_openai(anthropic_request)
    assert anthropic_request == original  # the client's request is not mutated
    assert body == litellm_expected(original)
    assert_valid_openai(body)


def test_request_fields_translate(fake: FakeServer) -> None:
    body = am.to_openai({**FULL, "stream": True})
    system, first, assistant, tool, last = body["messages"]
    assert system == {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
    }
    assert first == {"role": "user", "content": "weather?"}
    assert assistant["content"] == "Let me check."
    assert assistant["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo", "days": 1}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": "toolu_1", "content": "-3 C"}
    assert last["content"] == [
        {"type": "text", "text": "And this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    assert body["tools"][0] == {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather in a city", "parameters": WEATHER["input_schema"]},
    }
    assert body["stop"] == ["END"] and body["temperature"] == 0.2 and body["top_p"] == 0.9
    assert body["user"] == "user-42" and body["max_tokens"] == 200
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in am.to_openai(request(stream=False))
    # The openai SDK sends it as is, and the fake provider (OpenAI's wire, field for field) accepts it.
    with openai.OpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0) as client:
        stream = client.chat.completions.create(**body)
        assert [c for c in stream if not c.choices][0].usage is not None


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "lookup"}, {"type": "function", "function": {"name": "lookup"}}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    body = am.to_openai(request(tools=[WEATHER, LOOKUP], tool_choice=choice))
    assert body["tool_choice"] == expected
    assert "parallel_tool_calls" not in body
    parallel = am.to_openai(request(tools=[WEATHER], tool_choice={**choice, "disable_parallel_tool_use": True}))
    assert parallel["parallel_tool_calls"] is False


def test_tool_result_forms() -> None:
    def tool_message(block: dict[str, Any]) -> dict[str, Any]:
        messages = [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", **block}]},
        ]
        return am.to_openai(request(messages=messages, tools=[LOOKUP]))["messages"][-1]

    assert tool_message({"content": "42"})["content"] == "42"
    assert tool_message({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]
    assert tool_message({"content": "boom", "is_error": True})["content"] == "Error: boom"
    assert tool_message({"content": [{"type": "text", "text": "boom"}], "is_error": True})["content"] == "Error: boom"
    assert tool_message({"is_error": True})["content"] == "Error: "
    image = tool_message(
        {
            "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}],
            "is_error": True,
        }
    )
    assert image["content"][0] == {"type": "text", "text": "Error:"} and image["content"][1]["type"] == "image_url"


def test_thinking_metadata_documents_and_dropped_fields() -> None:
    claude = am.to_openai(request(max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2048}))
    assert claude["thinking"] == {"type": "enabled", "budget_tokens": 2048} and "reasoning_effort" not in claude
    gpt = am.to_openai(request(model=GPT, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2048}))
    assert gpt["reasoning_effort"] == "medium" and "thinking" not in gpt
    # LiteLLM would send reasoning_effort "none", which non-reasoning OpenAI models reject.
    assert "reasoning_effort" not in am.to_openai(request(model=GPT, thinking={"type": "disabled"}))
    assert "user" not in am.to_openai(request(metadata={"user_id": None}))
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "Body"},
        "title": "Memo",
    }
    body = am.to_openai(
        request(messages=[{"role": "user", "content": [document, {"type": "text", "text": "Sum up."}]}])
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Memo\n\nBody"},
        {"type": "text", "text": "Sum up."},
    ]
    dropped = am.to_openai(request(service_tier="auto", container=None, cache_control={"type": "ephemeral"}))
    assert not {"service_tier", "container", "cache_control"} & set(dropped)
    # Extra keys of a custom tool must not leak into its JSON schema (LiteLLM merges them in).
    tool = {**WEATHER, "input_examples": [{"city": "Oslo", "days": 1}]}
    assert am.to_openai(request(tools=[tool]))["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]


def test_long_tool_names_are_restored() -> None:
    name = "mcp__a_server_with_a_long_name__and_a_tool_whose_name_is_long_as_well"
    anthropic_request = request(tools=[{**LOOKUP, "name": name}])
    body = am.to_openai(anthropic_request)
    short = body["tools"][0]["function"]["name"]
    assert len(short) == 64 and short != name
    names = am.tool_name_mapping(anthropic_request)
    call = {"id": "call_1", "type": "function", "function": {"name": short, "arguments": "{}"}}
    answer = completion(message={"role": "assistant", "content": None, "tool_calls": [call]}, finish="tool_calls")
    assert am.from_openai(answer, CLAUDE, names)["content"][0]["name"] == name
    chunks = [chunk({"tool_calls": [{"index": 0, **call}]}), chunk({}, "tool_calls")]
    events = parse_events(convert(chunks, tool_names=names))
    assert events[1]["content_block"]["name"] == name


INVALID = [
    (None, None, "JSON object"),
    ({"max_tokens": 10, "messages": user("x")}, "model", "`model` is required"),
    ({"model": "", "max_tokens": 10, "messages": user("x")}, "model", "non-empty string"),
    ({"model": 7, "max_tokens": 10, "messages": user("x")}, "model", "non-empty string"),
    ({"model": CLAUDE, "messages": user("x")}, "max_tokens", "`max_tokens` is required"),
    (request(max_tokens=0), "max_tokens", "at least 1"),
    (request(max_tokens=-5), "max_tokens", "at least 1"),
    (request(max_tokens="10"), "max_tokens", "must be an integer"),
    (request(max_tokens=True), "max_tokens", "must be an integer"),
    (request(max_tokens=1.5), "max_tokens", "must be an integer"),
    ({"model": CLAUDE, "max_tokens": 10}, "messages", "`messages` is required"),
    (request(messages=[]), "messages", "non-empty list"),
    (request(messages="hi"), "messages", "non-empty list"),
    (request(messages=["hi"]), "messages[0]", "must be an object"),
    (request(messages=[{"role": "bot", "content": "x"}]), "messages[0].role", "'bot'"),
    (request(messages=[{"role": "user"}]), "messages[0].content", "is required"),
    (request(messages=[{"role": "user", "content": ""}]), "messages[0].content", "must not be empty"),
    (request(messages=[{"role": "user", "content": []}]), "messages[0].content", "must not be empty"),
    (request(messages=[{"role": "user", "content": 5}]), "messages[0].content", "list of content blocks"),
    (request(messages=[{"role": "user", "content": ["x"]}]), "messages[0].content[0]", "with a `type`"),
    (request(messages=[{"role": "user", "content": [{"type": "video"}]}]), "messages[0].content[0].type", "'video'"),
    (request(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text", "is required"),
    (
        request(
            messages=[
                *user("x"),
                {"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]},
            ]
        ),
        "messages[1].content[0].type",
        "'tool_use'",
    ),
    (
        request(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]),
        "messages[0].content[0].type",
        "'tool_result'",
    ),
    (
        request(
            messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": "{}"}]}]
        ),
        "messages[0].content[0].input",
        "must be an object",
    ),
    (
        request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}
                    ],
                }
            ]
        ),
        "messages[0].content[0].source.media_type",
        "image/jpeg",
    ),
    (
        request(
            messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]
        ),
        "messages[0].content[0].source.type",
        "'file'",
    ),
    (
        request(
            messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "is_error": "yes"}]}]
        ),
        "messages[0].content[0].is_error",
        "boolean",
    ),
    (
        request(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "a", "content": [{"type": "tool_use"}]}],
                }
            ]
        ),
        "messages[0].content[0].content[0].type",
        "'tool_use'",
    ),
    (request(system=5), "system", "list of content blocks"),
    (request(system=[{"type": "image"}]), "system[0].type", "'image'"),
    (request(stop_sequences="END"), "stop_sequences", "list of non-empty strings"),
    (request(temperature=1.5), "temperature", "between 0 and 1"),
    (request(top_p="high"), "top_p", "must be a number"),
    (request(top_k=-1), "top_k", "at least 0"),
    (request(stream="yes"), "stream", "boolean"),
    (request(metadata={"user_id": 5}), "metadata.user_id", "string"),
    (request(tools=[{"name": "x"}]), "tools[0].input_schema", "JSON schema"),
    (request(tools=[{"input_schema": {}}]), "tools[0].name", "is required"),
    (request(tool_choice={"type": "function"}), "tool_choice.type", "'function'"),
    (request(tool_choice={"type": "tool"}), "tool_choice.name", "is required"),
    (request(thinking={"type": "enabled"}), "thinking.budget_tokens", "is required"),
    (request(thinking={"type": "enabled", "budget_tokens": 100}), "thinking.budget_tokens", "at least 1024"),
    (request(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 2048}), "max_tokens", "greater than"),
    (request(frequency_penalty=1), "frequency_penalty", "extra inputs are not permitted"),
]


@pytest.mark.parametrize(("body", "param", "words"), INVALID, ids=[f"{i}-{case[1]}" for i, case in enumerate(INVALID)])
def test_invalid_requests_name_the_field(body: Any, param: str | None, words: str) -> None:
    with pytest.raises(GatewayError) as caught:
        am.to_openai(body)
    error = caught.value
    assert error.status == 400 and error.param == param and words in error.message
    if param is not None:
        assert f"`{param}`" in error.message
    assert error.code in ("invalid_request", "missing_required_parameter")


def test_final_assistant_prefill_may_be_empty() -> None:
    body = am.to_openai(request(messages=[*user("x"), {"role": "assistant", "content": ""}]))
    assert body["messages"][0] == {"role": "user", "content": "x"}


def test_sdk_sees_validation_errors_as_bad_request(http: httpx.Client, fake: FakeServer) -> None:
    with sdk(mini_gateway(http, fake)) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=user("x"), extra_body={"temperature": 3})  # type: ignore[arg-type]
    assert caught.value.type == "invalid_request_error"
    assert caught.value.api_message == "`temperature` must be between 0 and 1; got 3."


# --- buffered answers ---------------------------------------------------------


def completion(
    message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None, **choice: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-Abc123",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish, **choice}],
        "usage": usage or {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }


def test_buffered_text_answer(http: httpx.Client, fake: FakeServer) -> None:
    body = am.to_openai(request(system="Be brief."))
    answer = http.post(f"{fake.url}/v1/chat/completions", json=body, headers=AUTH).json()
    original = copy.deepcopy(answer)
    message = Message.model_validate(am.from_openai(answer, CLAUDE))
    assert answer == original
    assert message.id == "msg_" + answer["id"].removeprefix("chatcmpl-")
    assert message.type == "message" and message.role == "assistant" and message.model == CLAUDE
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Fake reply to: Hello there"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == answer["usage"]["prompt_tokens"]
    assert message.usage.output_tokens == count("Fake reply to: Hello there")
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0


def test_buffered_tool_call_and_max_tokens(http: httpx.Client, fake: FakeServer) -> None:
    body = am.to_openai(request(tools=[WEATHER]))
    answer = http.post(f"{fake.url}/v1/chat/completions", json=body, headers=AUTH).json()
    message = Message.model_validate(am.from_openai(answer, CLAUDE))
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "fake city", "days": 1}
    assert block.id == answer["choices"][0]["message"]["tool_calls"][0]["id"]
    cut = http.post(
        f"{fake.url}/v1/chat/completions", json=am.to_openai(request(max_tokens=4, messages=user(LONG))), headers=AUTH
    )
    truncated = Message.model_validate(am.from_openai(cut.json(), CLAUDE))
    assert truncated.stop_reason == "max_tokens" and truncated.usage.output_tokens == 4


def test_buffered_text_with_tool_calls_and_cached_tokens() -> None:
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo", "days": 2}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "lookup", "arguments": ""}},
    ]
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920},
    }
    answer = completion({"role": "assistant", "content": "Checking.", "tool_calls": calls}, "tool_calls", usage)
    empty_text = completion({"role": "assistant", "content": "", "tool_calls": calls}, "tool_calls")
    assert [b["type"] for b in am.from_openai(empty_text, CLAUDE)["content"]] == ["tool_use", "tool_use"]
    message = Message.model_validate(am.from_openai(answer, CLAUDE))
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"city": "Oslo", "days": 2} and message.content[2].input == {}  # type: ignore[union-attr]
    assert message.usage.input_tokens == 86 and message.usage.cache_read_input_tokens == 1920
    assert message.usage.output_tokens == 300


def test_buffered_stop_sequence_when_the_provider_names_it() -> None:
    # vLLM (and the OpenAI-compatible servers copying it) name the matched stop string in `stop_reason`.
    named = Message.model_validate(
        am.from_openai(completion({"role": "assistant", "content": "a"}, stop_reason="END"), CLAUDE)
    )
    assert named.stop_reason == "stop_sequence" and named.stop_sequence == "END"
    plain = Message.model_validate(am.from_openai(completion({"role": "assistant", "content": "a"}), CLAUDE))
    assert plain.stop_reason == "end_turn" and plain.stop_sequence is None


def test_buffered_answer_through_the_sdk(http: httpx.Client, fake: FakeServer) -> None:
    seen: list[dict[str, Any]] = []
    with sdk(mini_gateway(http, fake, seen)) as client:
        message = client.messages.create(
            model=CLAUDE, max_tokens=200, messages=user("Hi"), tools=[WEATHER], tool_choice={"type": "none"}
        )  # type: ignore[arg-type,list-item]
    assert seen[0]["tool_choice"] == "none" and "stream" not in seen[0]
    assert message.content[0].text == "Fake reply to: Hi" and message.model == CLAUDE  # type: ignore[union-attr]


def test_malformed_tool_arguments_are_a_bad_gateway() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "lookup", "arguments": "not json at all"}}
    with pytest.raises(GatewayError) as caught:
        am.from_openai(completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"), CLAUDE)
    assert caught.value.status == 502


# --- streams ------------------------------------------------------------------

BASE = {"id": "chatcmpl-Str3am", "object": "chat.completion.chunk", "created": 1700000000, "model": GPT}


def chunk(delta: dict[str, Any], finish: str | None = None, **choice: Any) -> dict[str, Any]:
    return {**BASE, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish, **choice}]}


def usage_chunk(prompt: int, completion_tokens: int, cached: int = 0) -> dict[str, Any]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    return {**BASE, "choices": [], "usage": {**usage, "prompt_tokens_details": {"cached_tokens": cached}}}


def stream_through_sdk(raw: bytes) -> tuple[list[str], Message]:
    """The real SDK's view of our bytes: the raw event types and the accumulated message."""
    with sdk(serve_bytes(raw)) as client, client.messages.stream(model=CLAUDE, max_tokens=200, messages=user("x")) as stream:  # type: ignore[arg-type]
        kinds = [
            event.type for event in stream if event.type not in ("text", "input_json", "thinking", "signature")
        ]
        final = stream.get_final_message()
    return kinds, final


def test_stream_text_from_the_fake(http: httpx.Client, fake: FakeServer) -> None:
    body = am.to_openai(request(messages=user(LONG), stream=True))
    chunks = openai_chunks(http, fake, body)
    kinds, final = stream_through_sdk(convert(chunks))
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert kinds.count("content_block_delta") == sum(
        1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")
    )
    assert final.content[0].text == "Fake reply to: " + LONG  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.model == CLAUDE and final.id == "msg_" + chunks[0]["id"][9:]
    assert final.usage.output_tokens == count("Fake reply to: " + LONG)
    assert final.usage.input_tokens == chunks[-1]["usage"]["prompt_tokens"]


def test_stream_tool_call_from_the_fake(http: httpx.Client, fake: FakeServer) -> None:
    chunks = openai_chunks(http, fake, am.to_openai(request(tools=[WEATHER], stream=True)))
    kinds, final = stream_through_sdk(convert(chunks))
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * (len(chunks) - 3),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "fake city", "days": 1}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == chunks[-1]["usage"]["completion_tokens"]


def test_stream_max_tokens_from_the_fake(http: httpx.Client, fake: FakeServer) -> None:
    chunks = openai_chunks(http, fake, am.to_openai(request(max_tokens=5, messages=user(LONG), stream=True)))
    _, final = stream_through_sdk(convert(chunks))
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 5


def test_stream_is_incremental() -> None:
    events = StreamToAnthropic(CLAUDE)
    first = parse_events(events.feed(chunk({"role": "assistant", "content": ""})))
    assert [e["type"] for e in first] == ["message_start"]
    assert first[0]["message"]["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    opened = parse_events(events.feed(chunk({"content": "Hel"})))
    assert [e["type"] for e in opened] == ["content_block_start", "content_block_delta"]
    assert opened[1]["delta"] == {"type": "text_delta", "text": "Hel"}
    assert parse_events(events.feed(chunk({"content": "lo"}))) == [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}
    ]
    assert parse_events(events.feed(chunk({}, "stop"))) == [{"type": "content_block_stop", "index": 0}]
    end = parse_events(events.feed(usage_chunk(10, 2)))
    assert end == [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "input_tokens": 10,
                "output_tokens": 2,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
    ]
    assert parse_events(events.close()) == [{"type": "message_stop"}]
    assert events.close() == b"" and events.feed(chunk({"content": "late"})) == b""


def test_stream_text_then_parallel_tool_calls_and_cached_usage() -> None:
    chunks = [
        chunk({"role": "assistant", "content": "Let me look."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Os'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'lo", "days": 3}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ]
            }
        ),
        chunk({}, "tool_calls"),
        usage_chunk(1200, 40, cached=1024),
    ]
    raw = convert(chunks)
    events = parse_events(raw)
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    _, final = stream_through_sdk(raw)
    assert final.content[0].text == "Let me look."  # type: ignore[union-attr]
    assert [(b.name, b.input) for b in final.content[1:]] == [
        ("get_weather", {"city": "Oslo", "days": 3}),
        ("lookup", {"q": "x"}),
    ]  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (176, 1024, 40)


def test_stream_edge_shapes() -> None:
    # Content and finish reason in one chunk, usage on it too (fake-streamed providers).
    combined = {**chunk({"role": "assistant", "content": "All at once"}, "length"), "usage": usage_chunk(3, 4)["usage"]}
    kinds, final = stream_through_sdk(convert([combined]))
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert (
        final.content[0].text == "All at once" and final.stop_reason == "max_tokens" and final.usage.output_tokens == 4
    )  # type: ignore[union-attr]
    # No usage chunk at all: close() still ends the message well-formed.
    _, bare = stream_through_sdk(convert([chunk({"content": "hi"}), chunk({}, "stop")]))
    assert bare.stop_reason == "end_turn" and bare.usage.output_tokens == 0
    # A stream that ends without any chunk.
    assert [e["type"] for e in parse_events(convert([]))] == ["message_start", "message_delta", "message_stop"]
    # vLLM names the stop string.
    _, stopped = stream_through_sdk(
        convert([chunk({"content": "a"}), chunk({}, "stop", stop_reason="END"), usage_chunk(1, 1)])
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "END"
    # The estimate given to message_start is replaced by the real count.
    start = parse_events(StreamToAnthropic(CLAUDE, input_tokens=99).feed(chunk({})))[0]
    assert start["message"]["usage"]["input_tokens"] == 99


def test_stream_reasoning_and_refusal() -> None:
    chunks = [
        chunk(
            {
                "role": "assistant",
                "reasoning_content": "Think",
                "thinking_blocks": [{"type": "thinking", "thinking": "Think", "signature": None}],
            }
        ),
        chunk({"reasoning_content": "ing.", "thinking_blocks": [{"type": "thinking", "thinking": "ing."}]}),
        chunk({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "sig=="}]}),
        chunk({"content": "Answer."}),
        chunk({}, "stop"),
        usage_chunk(5, 9),
    ]
    _, final = stream_through_sdk(convert(chunks))
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Thinking." and thinking.signature == "sig=="
    assert text.type == "text" and text.text == "Answer."
    _, refused = stream_through_sdk(
        convert([chunk({"refusal": "I can't help with that."}), chunk({}, "stop"), usage_chunk(5, 6)])
    )
    assert refused.stop_reason == "refusal" and refused.content[0].text == "I can't help with that."  # type: ignore[union-attr]
    assert refused.stop_details is not None and refused.stop_details.explanation == "I can't help with that."


def test_stream_extension_fields_reach_message_delta() -> None:
    events = parse_events(
        convert([chunk({"content": "a"}), chunk({}, "stop"), {**usage_chunk(1, 1), "x_gateway": {"cost_usd": 0.5}}])
    )
    assert events[-2]["type"] == "message_delta" and events[-2]["x_gateway"] == {"cost_usd": 0.5}


def test_stream_errors_mid_stream() -> None:
    events = StreamToAnthropic(CLAUDE)
    raw = events.feed(chunk({"content": "partial"})) + events.error_event(
        "The upstream connection was reset.", "upstream_error"
    )
    assert events.close() == b""
    assert parse_events(raw)[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "The upstream connection was reset."},
    }
    with sdk(serve_bytes(raw)) as client, pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model=CLAUDE, max_tokens=10, messages=user("x")) as stream:  # type: ignore[arg-type]
            stream.get_final_message()
    assert caught.value.type == "api_error" and caught.value.api_message == "The upstream connection was reset."
    # An OpenAI-style error object inside the stream becomes the same event.
    inline = StreamToAnthropic(CLAUDE)
    frame = inline.feed({"error": {"message": "Overloaded", "type": "overloaded_error"}})
    assert parse_events(frame)[-1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def litellm_events(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LiteLLM's own AnthropicStreamWrapper over the same chunks (it needs them all up front)."""
    wrapper = AnthropicStreamWrapper(completion_stream=iter([ModelResponseStream(**c) for c in chunks]), model=CLAUDE)
    return list(wrapper)


def comparable(events: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            out.append(kind)
        elif kind == "message_delta":
            usage = event["usage"]
            delta = event["delta"]
            tokens = (usage["input_tokens"], usage["output_tokens"], usage.get("cache_read_input_tokens", 0))
            out.append((kind, delta["stop_reason"], delta.get("stop_details"), *tokens))
        else:
            out.append({k: v for k, v in event.items()})
    return out


DIFFERENTIAL = {
    "text": [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"content": " world"}),
        chunk({}, "stop"),
        usage_chunk(7, 2),
    ],
    "text-then-tools": [
        chunk({"role": "assistant", "content": "Checking."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
                ]
            }
        ),
        chunk({}, "tool_calls"),
        usage_chunk(30, 12, cached=10),
    ],
    "combined-finish": [chunk({"role": "assistant", "content": "One shot"}, "length"), usage_chunk(3, 2)],
    "reasoning": [
        chunk({"role": "assistant", "reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Answer."}),
        chunk({}, "stop"),
        usage_chunk(5, 9),
    ],
    "refusal": [chunk({"refusal": "No."}), chunk({}, "stop"), usage_chunk(5, 6)],
    "no-usage": [chunk({"content": "hi"}), chunk({}, "stop")],
    "usage-on-finish": [chunk({"content": "hi"}), {**chunk({}, "stop"), "usage": usage_chunk(3, 1)["usage"]}],
}


# Building LiteLLM's stream models in the test: pydantic warns about their ReadOnly TypedDict items.
litellm_models = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")


@litellm_models
@pytest.mark.parametrize("name", sorted(DIFFERENTIAL))
def test_stream_agrees_with_litellm_stream_wrapper(name: str) -> None:
    chunks = DIFFERENTIAL[name]
    ours = parse_events(convert(chunks))
    assert comparable(ours) == comparable(litellm_events(chunks))
    for event in ours:
        TypeAdapter(RawMessageStreamEvent).validate_python(event)


USAGES = {
    "plain": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    "openai-cached": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
    "anthropic-via-litellm": {
        "prompt_tokens": 50,
        "completion_tokens": 7,
        "total_tokens": 57,
        "cache_creation_input_tokens": 12,
        "cache_read_input_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 30, "cache_creation_tokens": 12},
    },
    "cache-write-detail": {
        "prompt_tokens": 40,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cache_write_tokens": 9},
    },
    "web-search": {"prompt_tokens": 9, "completion_tokens": 2, "server_tool_use": {"web_search_requests": 2}},
    "zero": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "prompt_tokens_details": None},
}


@litellm_models
@pytest.mark.parametrize("name", sorted(USAGES))
def test_usage_mapping_agrees_with_litellm(name: str) -> None:
    usage = USAGES[name]
    expected = LiteLLMAnthropicMessagesAdapter.translate_openai_usage_to_anthropic_usage_delta(LiteLLMUsage(**usage))
    assert am.anthropic_usage(usage) == expected


@litellm_models
def test_fake_streams_agree_with_litellm_stream_wrapper(http: httpx.Client, fake: FakeServer) -> None:
    for extra in ({}, {"tools": [WEATHER]}):
        chunks = openai_chunks(http, fake, am.to_openai(request(stream=True, **extra)))
        assert comparable(parse_events(convert(chunks))) == comparable(litellm_events(chunks))


# --- round trip against the fake provider's own Anthropic endpoint -------------

ROUND_TRIPS = {
    "plain": {"messages": user("Hello there")},
    "system-blocks": {
        "system": [{"type": "text", "text": "Sys"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "this?"}]}
        ],
    },
    "multi-turn": {"messages": [*user("first"), {"role": "assistant", "content": "ok"}, *user("second")]},
    "max-tokens": {"max_tokens": 4, "messages": user(LONG)},
    "tools": {"tools": [WEATHER, LOOKUP]},
    "named-tool": {"tools": [WEATHER, LOOKUP], "tool_choice": {"type": "tool", "name": "lookup"}},
    "tool-result": {
        "tools": [WEATHER],
        "messages": [
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
        ],
    },
}


def summary(message: Message) -> list[Any]:
    return [
        message.stop_reason,
        message.usage.output_tokens,
        *[
            (b.type, getattr(b, "text", None), getattr(b, "name", None), getattr(b, "input", None))
            for b in message.content
        ],
    ]


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip_matches_the_fake_anthropic_endpoint(http: httpx.Client, fake: FakeServer, name: str) -> None:
    params: dict[str, Any] = {"model": CLAUDE, "max_tokens": 200, "messages": user("Hello there"), **ROUND_TRIPS[name]}
    with direct(fake) as native, sdk(mini_gateway(http, fake)) as gateway:
        expected = native.messages.create(**params)
        buffered = gateway.messages.create(**params)
        with gateway.messages.stream(**params) as stream:
            streamed = stream.get_final_message()
        with native.messages.stream(**params) as stream:
            native_streamed = stream.get_final_message()
    assert summary(buffered) == summary(expected)
    assert summary(streamed) == summary(native_streamed) == summary(expected)
    assert buffered.model == streamed.model == CLAUDE


# --- errors -------------------------------------------------------------------

STATUSES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (402, anthropic.PaymentRequiredError, "billing_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (413, anthropic.ContentTooLargeError, "request_too_large"),
    (422, anthropic.UnprocessableEntityError, "invalid_request_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (502, anthropic.InternalServerError, "api_error"),
    (503, anthropic.ServiceUnavailableError, "api_error"),
    (504, anthropic.GatewayTimeoutError, "timeout_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "error_class", "type_"), STATUSES)
def test_error_body_is_what_the_sdk_raises(
    status: int, error_class: type[anthropic.APIStatusError], type_: str
) -> None:
    body = am.error_body(status, f"Failure {status}.")
    assert orjson.loads(body) == {"type": "error", "error": {"type": type_, "message": f"Failure {status}."}}
    if type_ != "request_too_large":  # documented by Anthropic, missing from the SDK's ErrorObject union
        ErrorResponse.model_validate_json(body)
    with sdk(serve_bytes(body, status, "application/json")) as client, pytest.raises(error_class) as caught:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=user("x"))  # type: ignore[arg-type]
    assert caught.value.status_code == status and caught.value.type == type_
    assert caught.value.api_message == f"Failure {status}."


def test_error_body_keeps_an_explicit_type() -> None:
    assert orjson.loads(am.error_body(500, "m", "overloaded_error"))["error"]["type"] == "overloaded_error"
    assert orjson.loads(am.error_body(500, "m", "server_error"))["error"]["type"] == "api_error"


@pytest.mark.parametrize("status", [401, 404, 429, 500, 503])
def test_provider_openai_errors_reach_the_sdk(http: httpx.Client, fake: FakeServer, status: int) -> None:
    upstream = http.post(
        f"{fake.url}/v1/chat/completions",
        json=am.to_openai(request(model=GPT)),
        headers={**AUTH, "x-fake-status": str(status)},
    )
    assert upstream.status_code == status
    message = upstream.json()["error"]["message"]
    translated = am.from_openai_error(status, upstream.content)
    error_class = dict((s, c) for s, c, _ in STATUSES)[status]
    with sdk(serve_bytes(translated, status, "application/json")) as client, pytest.raises(error_class) as caught:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=user("x"))  # type: ignore[arg-type]
    assert caught.value.api_message == message


def test_from_openai_error_shapes() -> None:
    gateway = GatewayError(429, "Token budget exhausted for tenant acme.", code="budget_exceeded").body()
    assert orjson.loads(am.from_openai_error(429, gateway)) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Token budget exhausted for tenant acme."},
    }
    native = orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert orjson.loads(am.from_openai_error(529, native))["error"] == {
        "type": "overloaded_error",
        "message": "Overloaded",
    }
    assert orjson.loads(am.from_openai_error(502, b"<html>Bad Gateway</html>"))["error"] == {
        "type": "api_error",
        "message": "<html>Bad Gateway</html>",
    }
    assert orjson.loads(am.from_openai_error(400, b'{"error": "plain string"}'))["error"]["message"] == "plain string"
    assert (
        orjson.loads(am.from_openai_error(400, b'{"detail": {"message": "bedrock says no"}}'))["error"]["message"]
        == "bedrock says no"
    )
    assert orjson.loads(am.from_openai_error(500, b"[]"))["error"]["message"] == "The request failed with status 500."
