"""The fake provider's Gemini wire (generateContent and streamGenerateContent), over plain HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extproc.fake_provider import FakeConfig
from extproc.fake_provider import tokens as fake_tokens
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running

MODEL = "gemini-1.5-flash"
LONG = "Explain why the sea looks blue on a clear day and grey when clouds cover the sky."
WEATHER = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
        }
    ]
}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server


def count(text: str) -> int:
    return len(fake_tokens.encoding().encode(text))


def contents(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"text": text}]}]


def generate(
    server: FakeServer, body: dict[str, Any], method: str = "generateContent", query: str = ""
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1beta/models/{MODEL}:{method}{query}", headers={"x-goog-api-key": "goog-key"}, json=body
    )


def test_generate_content(fake: FakeServer) -> None:
    body = {"systemInstruction": {"parts": [{"text": "Be brief."}]}, "contents": contents("Hello there")}
    response = generate(fake, body)
    assert response.status_code == 200
    payload = response.json()
    candidate = payload["candidates"][0]
    assert candidate["content"] == {"role": "model", "parts": [{"text": "Fake reply to: Hello there"}]}
    assert candidate["finishReason"] == "STOP" and candidate["index"] == 0
    usage = payload["usageMetadata"]
    assert usage["promptTokenCount"] == count("Be brief.") + count("Hello there")
    assert usage["candidatesTokenCount"] == count("Fake reply to: Hello there")
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert payload["modelVersion"] == MODEL


def test_generation_config_in_both_spellings(fake: FakeServer) -> None:
    camel = generate(
        fake, {"contents": contents(LONG), "generationConfig": {"maxOutputTokens": 3, "candidateCount": 2}}
    )
    snake = generate(
        fake, {"contents": contents(LONG), "generation_config": {"max_output_tokens": 3, "candidate_count": 2}}
    )
    assert camel.json()["candidates"] == snake.json()["candidates"]
    candidates = camel.json()["candidates"]
    assert [c["index"] for c in candidates] == [0, 1]
    assert all(c["finishReason"] == "MAX_TOKENS" for c in candidates)
    assert count(candidates[0]["content"]["parts"][0]["text"]) == 3


def test_stop_sequences_and_json_mode(fake: FakeServer) -> None:
    stopped = generate(fake, {"contents": contents(LONG), "generationConfig": {"stopSequences": ["blue"]}}).json()
    assert stopped["candidates"][0]["content"]["parts"][0]["text"] == "Fake reply to: Explain why the sea looks "
    schema = {
        "type": "OBJECT",
        "properties": {"answer": {"type": "STRING"}, "n": {"type": "INTEGER"}},
        "required": ["answer", "n"],
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    structured = generate(fake, {"contents": contents("json"), "generationConfig": config}).json()
    assert json.loads(structured["candidates"][0]["content"]["parts"][0]["text"]) == {"answer": "fake answer", "n": 1}


def test_function_call_and_function_response(fake: FakeServer) -> None:
    called = generate(fake, {"contents": contents("weather?"), "tools": [WEATHER]}).json()
    part = called["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "get_weather", "args": {"city": "fake city"}}}
    conversation = [
        *contents("weather?"),
        {"role": "model", "parts": [part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}]},
    ]
    answered = generate(fake, {"contents": conversation, "tools": [WEATHER]}).json()
    assert answered["candidates"][0]["content"]["parts"][0]["text"] == "Fake reply to tool result: sunny"
    none = {"functionCallingConfig": {"mode": "NONE"}}
    plain = generate(fake, {"contents": contents("x"), "tools": [WEATHER], "toolConfig": none}).json()
    assert plain["candidates"][0]["content"]["parts"][0]["text"] == "Fake reply to: x"


def test_sse_stream(fake: FakeServer) -> None:
    response = generate(fake, {"contents": contents(LONG)}, "streamGenerateContent", "?alt=sse")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\r\n\r\n") if e]
    assert len(events) > 5
    chunks = [json.loads(e.removeprefix("data: ")) for e in events]
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "Fake reply to: " + LONG
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == count(text)


def test_stream_without_sse_is_a_json_array(fake: FakeServer) -> None:
    response = generate(fake, {"contents": contents(LONG)}, "streamGenerateContent")
    assert response.headers["content-type"].startswith("application/json")
    chunks = response.json()
    assert isinstance(chunks, list) and len(chunks) > 5
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Fake reply to: " + LONG


def test_key_in_query_parameter(fake: FakeServer) -> None:
    response = httpx.post(f"{fake.url}/v1beta/models/{MODEL}:generateContent?key=abc", json={"contents": contents("q")})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "headers", "body", "status", "grpc_status"),
    [
        (f"/v1beta/models/{MODEL}:generateContent", {}, {"contents": contents("x")}, 403, "PERMISSION_DENIED"),
        (f"/v1beta/models/{MODEL}:generateContent", {"x-goog-api-key": "k"}, {}, 400, "INVALID_ARGUMENT"),
        (
            f"/v1beta/models/{MODEL}:unknownMethod",
            {"x-goog-api-key": "k"},
            {"contents": contents("x")},
            404,
            "NOT_FOUND",
        ),
    ],
)
def test_errors_in_google_shape(
    fake: FakeServer, url: str, headers: dict[str, str], body: dict[str, Any], status: int, grpc_status: str
) -> None:
    response = httpx.post(fake.url + url, headers=headers, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["status"] == grpc_status and error["message"]


def test_wrong_key_is_api_key_invalid() -> None:
    with running(FakeConfig(required_key="right")) as server:
        response = httpx.post(
            f"{server.url}/v1beta/models/{MODEL}:generateContent",
            headers={"x-goog-api-key": "wrong"},
            json={"contents": contents("x")},
        )
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
