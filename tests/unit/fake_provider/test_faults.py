"""Fault injection: by x-fake-* header and by process flag, in each wire's own error format.

Timing assertions are lower bounds only: a loaded machine is slow, never fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from extproc.fake_provider import FakeConfig
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running

LONG = "Write a few sentences about how fog rolls in over the harbour early in the morning in autumn."
MESSAGES = [{"role": "user", "content": LONG}]
CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES}
OPENAI_HEADERS = {"Authorization": "Bearer k"}
ANTHROPIC_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server


class Clients:
    """SDK clients made by one test, closed after it (a stream the SDK gave up on keeps its connection)."""

    def __init__(self) -> None:
        self.made: list[openai.OpenAI | anthropic.Anthropic] = []

    def openai(self, server: FakeServer) -> openai.OpenAI:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        self.made.append(client)
        return client

    def anthropic(self, server: FakeServer) -> anthropic.Anthropic:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        self.made.append(client)
        return client


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    for client in made.made:
        client.close()


def chat(server: FakeServer, headers: dict[str, str] | None = None, **extra: object) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/chat/completions", headers={**OPENAI_HEADERS, **(headers or {})}, json={**CHAT, **extra}
    )


def test_status_header_in_openai_shape(fake: FakeServer, clients: Clients) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        clients.openai(fake).chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-fake-status": "503"}
        )  # type: ignore[arg-type]
    assert raised.value.status_code == 503
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "server_error" and body["message"]


def test_429_has_retry_after_in_every_wire(fake: FakeServer, clients: Clients) -> None:
    headers = {"x-fake-status": "429"}
    with pytest.raises(openai.RateLimitError) as from_openai:
        clients.openai(fake).chat.completions.create(model="m", messages=MESSAGES, extra_headers=headers)  # type: ignore[arg-type]
    assert from_openai.value.response.headers["retry-after"] == "1"
    assert from_openai.value.code == "rate_limit_exceeded"
    with pytest.raises(anthropic.RateLimitError) as from_anthropic:
        clients.anthropic(fake).messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=MESSAGES, extra_headers=headers
        )  # type: ignore[arg-type]
    assert from_anthropic.value.response.headers["retry-after"] == "1"
    gemini = httpx.post(
        fake.url + "/v1beta/models/gemini-1.5-flash:generateContent",
        headers={"x-goog-api-key": "k", **headers},
        json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
    )
    assert gemini.status_code == 429 and gemini.headers["retry-after"] == "1"
    assert gemini.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_anthropic_overloaded_is_529(fake: FakeServer, clients: Clients) -> None:
    with pytest.raises(anthropic.OverloadedError) as raised:
        clients.anthropic(fake).messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=MESSAGES,
            extra_headers={"x-fake-status": "529"},  # type: ignore[arg-type]
        )
    assert raised.value.status_code == 529
    assert raised.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_status_flag_and_header_override() -> None:
    with running(FakeConfig(status=502)) as server:
        assert chat(server).status_code == 502
        assert chat(server, {"x-fake-status": "200"}).status_code == 200
        assert chat(server, {"x-fake-status": "418"}).status_code == 418


def fail_pattern(rate: float, seed: int) -> list[int]:
    with running(FakeConfig(fail_rate=rate, seed=seed, fail_status=503)) as server, httpx.Client() as session:
        return [
            session.post(server.url + "/v1/chat/completions", headers=OPENAI_HEADERS, json=CHAT).status_code
            for _ in range(200)
        ]


def test_fail_rate_matches_and_is_repeatable() -> None:
    first = fail_pattern(0.3, seed=7)
    failures = first.count(503)
    assert first.count(200) + failures == 200
    assert 35 <= failures <= 85  # 60 expected; seeded, so this never flakes
    assert fail_pattern(0.3, seed=7) == first


def test_fail_rate_header(fake: FakeServer) -> None:
    statuses = [chat(fake, {"x-fake-fail-rate": "1", "x-fake-fail-status": "500"}).status_code for _ in range(5)]
    assert statuses == [500] * 5
    assert chat(fake, {"x-fake-fail-rate": "0"}).status_code == 200


def test_fault_models_scope_faults_to_the_models_named(fake: FakeServer) -> None:
    scoped = {"x-fake-status": "503", "x-fake-fault-models": "gpt-4o, claude-haiku-4-5"}
    assert chat(fake, scoped, model="gpt-4o").status_code == 503
    assert chat(fake, scoped, model="gpt-4o-mini").status_code == 200
    anthropic_call = httpx.post(
        fake.url + "/v1/messages",
        headers={**ANTHROPIC_HEADERS, **scoped},
        json={"model": "claude-haiku-4-5", "max_tokens": 20, "messages": MESSAGES},
    )
    assert anthropic_call.status_code == 503
    gemini_call = httpx.post(
        fake.url + "/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": "k", **scoped},
        json={"contents": [{"role": "user", "parts": [{"text": LONG}]}]},
    )
    assert gemini_call.status_code == 200
    named = httpx.post(
        fake.url + "/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": "k", **scoped, "x-fake-fault-models": "gemini-2.5-flash"},
        json={"contents": [{"role": "user", "parts": [{"text": LONG}]}]},
    )
    assert named.status_code == 503


def test_latency_header_and_flag(fake: FakeServer) -> None:
    started = time.monotonic()
    assert chat(fake, {"x-fake-latency-ms": "300"}).status_code == 200
    assert time.monotonic() - started >= 0.3
    with running(FakeConfig(latency_ms=200)) as server:
        started = time.monotonic()
        assert chat(server).status_code == 200
        assert time.monotonic() - started >= 0.2


def first_chunk_and_total(server: FakeServer, headers: dict[str, str]) -> tuple[float, float, int]:
    started = time.monotonic()
    first = None
    chunks = 0
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        headers={**OPENAI_HEADERS, **headers},
        json={**CHAT, "stream": True},
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                chunks += 1
                if first is None:
                    first = time.monotonic() - started
    assert first is not None
    return first, time.monotonic() - started, chunks


def test_ttft_and_chunk_delay(fake: FakeServer) -> None:
    first, _, _ = first_chunk_and_total(fake, {"x-fake-ttft-ms": "300"})
    assert first >= 0.3
    first, total, chunks = first_chunk_and_total(fake, {"x-fake-chunk-delay-ms": "20"})
    assert chunks > 10
    assert total >= 0.02 * (chunks - 1)
    with running(FakeConfig(ttft_ms=250)) as server:
        first, _, _ = first_chunk_and_total(server, {})
        assert first >= 0.25


def test_ttft_is_measurable_through_the_sdk(fake: FakeServer, clients: Clients) -> None:
    started = time.monotonic()
    stream = clients.openai(fake).chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake-ttft-ms": "200"},  # type: ignore[arg-type]
    )
    next(iter(stream))
    assert time.monotonic() - started >= 0.2
    stream.close()


def test_reset_mid_stream_makes_the_sdks_raise(fake: FakeServer, clients: Clients) -> None:
    received = []
    with pytest.raises(httpx.TransportError):
        stream = clients.openai(fake).chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-reset-after-chunks": "3"},  # type: ignore[arg-type]
        )
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    with (
        pytest.raises(Exception, match=r"reset|closed|incomplete"),
        clients.anthropic(fake).messages.stream(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=MESSAGES,
            extra_headers={"x-fake-reset-after-chunks": "4"},  # type: ignore[arg-type]
        ) as events,
    ):
        for _ in events:
            pass


def test_reset_of_a_buffered_answer_is_a_connection_error(clients: Clients) -> None:
    with running(FakeConfig(reset_after_chunks=0)) as server:
        with pytest.raises(openai.APIConnectionError):
            clients.openai(server).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        # A header switches the flag off for one request.
        assert chat(server, {"x-fake-reset-after-chunks": "-1"}).status_code == 200


def test_malformed_bodies_make_the_sdks_raise(fake: FakeServer, clients: Clients) -> None:
    headers = {"x-fake-malformed": "1"}
    with pytest.raises(json.JSONDecodeError):
        clients.openai(fake).chat.completions.create(model="m", messages=MESSAGES, extra_headers=headers)  # type: ignore[arg-type]
    with pytest.raises(json.JSONDecodeError):
        list(
            clients.openai(fake).chat.completions.create(
                model="m", messages=MESSAGES, stream=True, extra_headers=headers
            )
        )  # type: ignore[arg-type]
    with pytest.raises(json.JSONDecodeError):
        clients.anthropic(fake).messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, extra_headers=headers
        )  # type: ignore[arg-type]
    with (
        pytest.raises(json.JSONDecodeError),
        clients.anthropic(fake).messages.stream(
            model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, extra_headers=headers
        ) as events,
    ):  # type: ignore[arg-type]
        list(events)


def test_malformed_flag_is_a_200_with_invalid_json() -> None:
    with running(FakeConfig(malformed=True)) as server:
        response = chat(server)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
        assert chat(server, {"x-fake-malformed": "0"}).json()["choices"]


def test_faults_do_not_touch_the_control_endpoints() -> None:
    with running(FakeConfig(status=500, latency_ms=0)) as server:
        assert httpx.get(server.url + "/_fake/health").status_code == 200
        assert httpx.get(server.url + "/_fake/requests").status_code == 200


def test_injected_errors_are_recorded(fake: FakeServer) -> None:
    chat(fake, {"x-fake-status": "500"})
    recorded = httpx.get(fake.url + "/_fake/requests").json()["requests"]
    assert recorded[-1]["headers"]["x-fake-status"] == "500"
