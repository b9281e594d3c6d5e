"""The fake provider's OpenAI wire, as the real `openai` SDK sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
import tiktoken

from extproc.fake_provider import FakeConfig
from extproc.fake_provider import tokens as fake_tokens
from extproc.fake_provider.recording import fingerprint
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running
from tests.support.sdk_clients import openai_client

MODEL = "gpt-4o-mini"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city", "unit"],
        },
    },
}
LONG = "Tell me a long story about a lighthouse keeper who counts the waves every night until dawn."


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server


def client(server: FakeServer, key: str = "sk-test") -> openai.OpenAI:
    return openai_client(server.url + "/v1", key)


def count(text: str) -> int:
    return len(fake_tokens.encoding().encode(text))


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_tokenizer_is_a_real_offline_tiktoken_encoding() -> None:
    encoding = fake_tokens.encoding()
    assert encoding.name in ("o200k_base", "cl100k_base")
    assert fake_tokens.count("hello world") == len(encoding.encode("hello world")) == 2
    assert isinstance(encoding, tiktoken.Encoding)


def test_chat_reply_content_and_usage(fake: FakeServer) -> None:
    completion = client(fake).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."}, *user("Hello there")]
    )
    choice = completion.choices[0]
    assert choice.message.content == "Fake reply to: Hello there"
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.usage is not None
    # OpenAI's rule: each message's text, 3 tokens per message, 3 to prime the reply.
    assert completion.usage.prompt_tokens == count("Be brief.") + count("Hello there") + 3 * 2 + 3
    assert completion.usage.completion_tokens == count("Fake reply to: Hello there")
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


def test_text_parts_are_joined_with_a_space(fake: FakeServer) -> None:
    content = [
        {"type": "text", "text": "What is"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "in this picture?"},
    ]
    completion = client(fake).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert completion.choices[0].message.content == "Fake reply to: What is in this picture?"


def test_no_user_text_gives_the_plain_reply(fake: FakeServer) -> None:
    completion = client(fake).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "You are terse."}]
    )
    assert completion.choices[0].message.content == "Fake reply."


async def test_async_client(fake: FakeServer) -> None:
    async with openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="sk-test", max_retries=0) as aclient:
        completion = await aclient.chat.completions.create(model=MODEL, messages=user("async hello"))
    assert completion.choices[0].message.content == "Fake reply to: async hello"


def test_n_choices_get_suffixes(fake: FakeServer) -> None:
    completion = client(fake).chat.completions.create(model=MODEL, messages=user("hi"), n=3)
    texts = [choice.message.content for choice in completion.choices]
    assert texts == ["Fake reply to: hi", "Fake reply to: hi [1]", "Fake reply to: hi [2]"]
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == sum(count(text or "") for text in texts)


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_token_limit_truncates_with_finish_length(fake: FakeServer, limit: str) -> None:
    completion = client(fake).chat.completions.create(model=MODEL, messages=user(LONG), **{limit: 5})  # type: ignore[call-overload]
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content is not None
    assert count(choice.message.content) == 5
    assert ("Fake reply to: " + LONG).startswith(choice.message.content)
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_stop_sequence_cuts_the_reply(fake: FakeServer) -> None:
    completion = client(fake).chat.completions.create(model=MODEL, messages=user(LONG), stop=["keeper", "lighthouse"])
    assert completion.choices[0].message.content == "Fake reply to: Tell me a long story about a "
    assert completion.choices[0].finish_reason == "stop"


def test_json_object_mode_returns_json(fake: FakeServer) -> None:
    completion = client(fake).chat.completions.create(
        model=MODEL, messages=user("give me json"), response_format={"type": "json_object"}
    )
    assert json.loads(completion.choices[0].message.content or "") == {"reply": "Fake reply to: give me json"}


def test_json_schema_mode_fills_required_properties(fake: FakeServer) -> None:
    from pydantic import BaseModel

    class Forecast(BaseModel):
        city: str
        high: float
        days: int
        sunny: bool
        tags: list[str]

    completion = client(fake).chat.completions.parse(model=MODEL, messages=user("forecast"), response_format=Forecast)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert json.loads(completion.choices[0].message.content or "") == parsed.model_dump()


def test_tool_call_uses_schema_and_first_tool(fake: FakeServer) -> None:
    other = {"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}}
    completion = client(fake).chat.completions.create(model=MODEL, messages=user("weather?"), tools=[WEATHER, other])  # type: ignore[list-item]
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert set(arguments) == {"city", "unit"}
    assert arguments["unit"] == "celsius"
    assert isinstance(arguments["city"], str)


def test_named_tool_choice_and_none(fake: FakeServer) -> None:
    other = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
    named = client(fake).chat.completions.create(
        model=MODEL,
        messages=user("x"),
        tools=[WEATHER, other],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "lookup"}},
    )
    call = named.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"q": "fake q"}  # type: ignore[union-attr]
    none = client(fake).chat.completions.create(model=MODEL, messages=user("x"), tools=[WEATHER], tool_choice="none")  # type: ignore[list-item]
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content == "Fake reply to: x"


def test_tool_result_gets_a_text_answer(fake: FakeServer) -> None:
    messages = [
        *user("weather in Paris?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22 degrees"},
    ]
    completion = client(fake).chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == "Fake reply to tool result: 22 degrees"


def test_stream_has_many_chunks_and_a_usage_chunk(fake: FakeServer) -> None:
    stream = client(fake).chat.completions.create(
        model=MODEL, messages=user(LONG), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert len(chunks) > 10
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(chunk.object == "chat.completion.chunk" and chunk.id == first.id for chunk in chunks)
    assert last.choices == [] and last.usage is not None
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks[:-1])
    assert text == "Fake reply to: " + LONG
    assert last.usage.completion_tokens == count(text)
    assert last.usage.prompt_tokens == count(LONG) + 3 + 3


def test_stream_without_include_usage_has_no_usage(fake: FakeServer) -> None:
    response = httpx.post(
        fake.url + "/v1/chat/completions",
        headers={"Authorization": "Bearer k"},
        json={"model": MODEL, "messages": user("hi"), "stream": True},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    for event in events[:-1]:
        assert "usage" not in json.loads(event.removeprefix("data: "))


async def test_async_stream_helper_accumulates(fake: FakeServer) -> None:
    aclient = openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
    async with aclient, aclient.chat.completions.stream(model=MODEL, messages=user(LONG)) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "Fake reply to: " + LONG


def test_streamed_tool_call_accumulates(fake: FakeServer) -> None:
    with client(fake).chat.completions.stream(model=MODEL, messages=user("weather?"), tools=[WEATHER]) as stream:  # type: ignore[list-item]
        events = list(stream)
        final = stream.get_final_completion()
    deltas = [e for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len(deltas) > 1
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "fake city", "unit": "celsius"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_embeddings_float_and_base64_agree(fake: FakeServer) -> None:
    api = client(fake)
    floats = api.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float")
    base64 = api.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])  # the SDK asks for base64
    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 1536
    assert floats.data[0].embedding == pytest.approx(base64.data[0].embedding, abs=0)
    assert floats.data[0].embedding != floats.data[1].embedding
    norm = sum(v * v for v in floats.data[0].embedding) ** 0.5
    assert norm == pytest.approx(1.0, abs=1e-5)
    assert floats.usage.prompt_tokens == count("alpha") + count("beta") == floats.usage.total_tokens
    assert floats.model == "text-embedding-3-small"


def test_embeddings_are_deterministic_and_honour_dimensions(fake: FakeServer) -> None:
    api = client(fake)
    first = api.embeddings.create(model="m", input="same text", dimensions=256)
    second = api.embeddings.create(model="m", input="same text", dimensions=256)
    assert len(first.data[0].embedding) == 256
    assert first.data[0].embedding == second.data[0].embedding
    ids = fake_tokens.encoding().encode("same text")
    by_tokens = api.embeddings.create(model="m", input=[ids], dimensions=256)
    assert by_tokens.data[0].embedding == first.data[0].embedding
    assert by_tokens.usage.prompt_tokens == len(ids)


def test_models_list(fake: FakeServer) -> None:
    models = [model.id for model in client(fake).models.list()]
    assert MODEL in models


def test_missing_key_is_401_in_openai_shape(fake: FakeServer) -> None:
    response = httpx.post(fake.url + "/v1/chat/completions", json={"model": MODEL, "messages": user("x")})
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "API key" in error["message"]


def test_required_key_is_enforced() -> None:
    with running(FakeConfig(required_key="sk-right")) as server:
        with pytest.raises(openai.AuthenticationError) as raised:
            client(server, "sk-wrong").chat.completions.create(model=MODEL, messages=user("x"))
        assert "sk-wrong" not in str(raised.value)
        assert client(server, "sk-right").chat.completions.create(model=MODEL, messages=user("x")).choices


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "gpt-4o-mini"}', "messages"),
        (b'{"model": "gpt-4o-mini", "messages": []}', "messages"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens"),
    ],
)
def test_invalid_requests_are_400_in_openai_shape(fake: FakeServer, body: bytes, param: str | None) -> None:
    response = httpx.post(
        fake.url + "/v1/chat/completions",
        content=body,
        headers={"Authorization": "Bearer k", "content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_sdk_raises_bad_request(fake: FakeServer) -> None:
    with pytest.raises(openai.BadRequestError):
        client(fake).chat.completions.create(model=MODEL, messages=[])


def test_recording_redacts_keys_and_keeps_bodies(fake: FakeServer) -> None:
    client(fake, "sk-secret-one").chat.completions.create(model=MODEL, messages=user("first"))
    httpx.post(fake.url + "/v1beta/models/gemini-1.5-flash:generateContent?key=goog-secret", json={"contents": []})
    recorded = httpx.get(fake.url + "/_fake/requests").json()["requests"]
    assert [r["path"] for r in recorded] == ["/v1/chat/completions", "/v1beta/models/gemini-1.5-flash:generateContent"]
    assert recorded[0]["method"] == "POST"
    assert recorded[0]["headers"]["authorization"] == "Bearer " + fingerprint("sk-secret-one")
    assert recorded[0]["body"]["messages"] == user("first")
    assert recorded[1]["query"]["key"] == fingerprint("goog-secret")
    assert fingerprint("sk-secret-one").startswith("sha256:") and len(fingerprint("x")) == len("sha256:") + 12
    dump = json.dumps(recorded)
    assert "sk-secret-one" not in dump and "goog-secret" not in dump
    assert httpx.delete(fake.url + "/_fake/requests").status_code == 200
    assert httpx.get(fake.url + "/_fake/requests").json()["requests"] == []


def test_recording_is_bounded() -> None:
    with running(FakeConfig(record_limit=3)) as server:
        for i in range(5):
            client(server).chat.completions.create(model=MODEL, messages=user(f"m{i}"))
        recorded = httpx.get(server.url + "/_fake/requests").json()["requests"]
    assert [r["body"]["messages"][0]["content"] for r in recorded] == ["m2", "m3", "m4"]


def test_health(fake: FakeServer) -> None:
    response = httpx.get(fake.url + "/_fake/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
