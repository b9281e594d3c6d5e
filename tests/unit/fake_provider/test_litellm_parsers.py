"""LiteLLM's own provider parsers accept the fake provider's answers (buffered and streamed).

This is the faithfulness check that matters most: the gateway translates with
LiteLLM, so whatever LiteLLM parses from the fake, it parses from the real API.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from extproc.fake_provider import FakeConfig
from extproc.fake_provider import tokens as fake_tokens
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")

pytestmark = [
    # LiteLLM's TypedDicts use ReadOnly, which pydantic warns about when it builds their schemas.
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
    # LiteLLM caches the SDK clients it builds per api_base and never closes them; their sockets
    # are reported when the garbage collector finds them (see the module fixture below).
    pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

MESSAGES = [{"role": "user", "content": "hello world from litellm, please answer at some length"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
EXPECTED = "Fake reply to: " + MESSAGES[0]["content"]
# LiteLLM routes any call with tools through its MCP handler, which imports the
# optional `mcp` package; this private flag skips that (the gateway never calls completion()).
NO_MCP = {"_skip_mcp_handler": True}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server
    # Collect LiteLLM's abandoned clients here, where their warnings are expected,
    # rather than in whichever later test the collector happens to run.
    litellm.in_memory_llm_clients_cache.flush_cache()
    gc.collect()


def providers(server: FakeServer) -> dict[str, tuple[str, str]]:
    return {
        "openai": ("openai/gpt-4o-mini", server.url + "/v1"),
        "anthropic": ("anthropic/claude-haiku-4-5", server.url + "/v1/messages"),
        "gemini": ("gemini/gemini-1.5-flash", server.url + "/v1beta"),
    }


def call(server: FakeServer, provider: str, **kwargs: Any) -> Any:
    model, api_base = providers(server)[provider]
    return litellm.completion(model=model, api_base=api_base, api_key="k", messages=MESSAGES, **kwargs)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_buffered_text_and_usage(fake: FakeServer, provider: str) -> None:
    response = call(fake, provider)
    assert response.choices[0].message.content == EXPECTED
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == len(fake_tokens.encoding().encode(EXPECTED))
    assert response.usage.prompt_tokens > 0


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_buffered_length_finish(fake: FakeServer, provider: str) -> None:
    response = call(fake, provider, max_tokens=4)
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 4


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_buffered_tool_call(fake: FakeServer, provider: str) -> None:
    response = call(fake, provider, tools=TOOLS, **NO_MCP)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "fake city"}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_stream_text_and_usage(fake: FakeServer, provider: str) -> None:
    chunks = list(call(fake, provider, stream=True, stream_options={"include_usage": True}))
    assert len(chunks) > 5
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt.choices[0].message.content == EXPECTED
    assert rebuilt.choices[0].finish_reason == "stop"
    assert rebuilt.usage.completion_tokens == len(fake_tokens.encoding().encode(EXPECTED))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_stream_tool_call(fake: FakeServer, provider: str) -> None:
    chunks = list(call(fake, provider, stream=True, tools=TOOLS, **NO_MCP))
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt.choices[0].finish_reason == "tool_calls"
    call_ = rebuilt.choices[0].message.tool_calls[0]
    assert call_.function.name == "get_weather"
    assert json.loads(call_.function.arguments) == {"city": "fake city"}


def test_injected_errors_map_to_litellm_exceptions(fake: FakeServer) -> None:
    headers = {"x-fake-status": "429"}
    for provider in ("openai", "anthropic", "gemini"):
        with pytest.raises(litellm.RateLimitError):
            call(fake, provider, extra_headers=headers, max_retries=0, num_retries=0)
    with pytest.raises(litellm.InternalServerError):
        call(fake, "anthropic", extra_headers={"x-fake-status": "529"}, max_retries=0, num_retries=0)
