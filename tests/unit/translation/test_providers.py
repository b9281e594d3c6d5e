"""Provider translation checked against LiteLLM itself, over the fake provider's real wire formats.

The oracle is `litellm.completion()` / `litellm.embedding()` pointed at the fake
provider: the request it sends (the fake records it) must equal the one the
translator builds, and the answer it parses must equal the translator's
reading of the same answer. Azure's wire is recorded by an httpx transport
that hands LiteLLM's Azure requests on to the fake's OpenAI routes.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from extproc.fake_provider import FakeConfig
from extproc.fake_provider.recording import SECRET_HEADERS, redact
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# LiteLLM's token counter looks for Llama tokenizers on huggingface.co (retrying for
# half a minute) when it prices Groq and vLLM streams; offline it falls back at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
litellm = pytest.importorskip("litellm")
openai_types = pytest.importorskip("openai.types.chat")

from extproc.translation import ProviderTranslator, StreamTranslator, TranslationError, UpstreamRequest  # noqa: E402

pytestmark = [
    # LiteLLM's TypedDicts use ReadOnly, which pydantic warns about when it builds their schemas.
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
    # LiteLLM caches the SDK clients it builds per api_base and never closes them; their sockets
    # are reported when the garbage collector finds them (see the module fixture below).
    pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

KEY = "sk-test-0123456789abcdef"
WITH_USAGE = {"include_usage": True}
# LiteLLM routes any call with tools through its MCP handler, which imports the
# optional `mcp` package; this private flag skips that (the gateway never calls completion()).
NO_MCP = {"_skip_mcp_handler": True}

# provider -> (LiteLLM model string, path below the fake's URL that makes the api_base)
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("openai/gpt-4o-mini", "/v1"),
    "anthropic": ("anthropic/claude-3-5-haiku-20241022", "/v1/messages"),
    "gemini": ("gemini/gemini-2.5-flash", "/v1beta"),
    "mistral": ("mistral/mistral-small-latest", "/v1"),
    "hosted_vllm": ("hosted_vllm/llama-3.1-8b", "/v1"),
    "groq": ("groq/llama-3.1-8b-instant", "/v1"),
}
AZURE_MODEL = "azure/my-deployment"
AZURE_BASE = "https://my-resource.openai.azure.com"
AZURE_VERSION = "2024-10-21"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
SCHEMA = {
    "name": "answer",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"reply": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["reply", "score"],
        "additionalProperties": False,
    },
}
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}

CASES: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "user", "content": "hello world, please answer"}]},
    "system_multi_turn": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "tell me more"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    },
    "tools": {
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": TOOLS,
        "tool_choice": "auto",
    },
    "tool_result": {
        "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [WEATHER_CALL],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        ],
        "tools": TOOLS,
    },
    "tool_name_with_dots": {
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [{"type": "function", "function": {**TOOLS[0]["function"], "name": "weather.get"}}],
    },
    "json_mode": {
        "messages": [{"role": "user", "content": "answer in JSON"}],
        "response_format": {"type": "json_object"},
    },
    "json_schema": {
        "messages": [{"role": "user", "content": "answer in JSON"}],
        "response_format": {"type": "json_schema", "json_schema": SCHEMA},
    },
    "image_data_url": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PIXEL}},
                ],
            }
        ]
    },
    "image_remote_url": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        ]
    },
    "stop": {"messages": [{"role": "user", "content": "count: one two three"}], "stop": ["two"]},
    "seed": {"messages": [{"role": "user", "content": "hi"}], "seed": 7},
    "n": {"messages": [{"role": "user", "content": "hi"}], "n": 2},
    "max_completion_tokens": {
        "messages": [{"role": "user", "content": "a long answer please"}],
        "max_completion_tokens": 3,
    },
}


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    with running(FakeConfig()) as server:
        yield server
    # Collect LiteLLM's abandoned clients here, where their warnings are expected,
    # rather than in whichever later test the collector happens to run.
    litellm.in_memory_llm_clients_cache.flush_cache()
    gc.collect()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


class AzureRecorder(httpx.BaseTransport):
    """An httpx transport for LiteLLM's Azure client: records each request, answers it from the fake's OpenAI routes."""

    def __init__(self, fake_url: str) -> None:
        self.requests: list[httpx.Request] = []
        self._client = httpx.Client(base_url=fake_url, timeout=30)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = "/v1/embeddings" if request.url.path.endswith("/embeddings") else "/v1/chat/completions"
        key = request.headers.get("api-key", "")
        answer = self._client.post(path, content=request.content, headers={"authorization": f"Bearer {key}"})
        return httpx.Response(
            answer.status_code, headers={"content-type": answer.headers["content-type"]}, content=answer.content
        )

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def azure(fake: FakeServer) -> Iterator[AzureRecorder]:
    """LiteLLM's SDK clients, for this test only, send through an AzureRecorder."""
    recorder = AzureRecorder(fake.url)
    session = httpx.Client(transport=recorder)
    previous = litellm.client_session
    # LiteLLM caches SDK clients with the session they were built with: start and end clean.
    litellm.in_memory_llm_clients_cache.flush_cache()
    litellm.client_session = session
    try:
        yield recorder
    finally:
        litellm.client_session = previous
        litellm.in_memory_llm_clients_cache.flush_cache()
        session.close()


def translator(fake: FakeServer, provider: str) -> ProviderTranslator:
    model, suffix = PROVIDERS[provider]
    return ProviderTranslator.for_model(model, api_base=fake.url + suffix)


def azure_translator() -> ProviderTranslator:
    return ProviderTranslator.for_model(AZURE_MODEL, api_base=AZURE_BASE, options={"api_version": AZURE_VERSION})


def oracle(fake: FakeServer, provider: str, **kwargs: Any) -> Any:
    """litellm.completion() against the fake provider."""
    model, suffix = PROVIDERS[provider]
    return litellm.completion(model=model, api_base=fake.url + suffix, api_key=KEY, **NO_MCP, **kwargs)


def azure_oracle(**kwargs: Any) -> Any:
    return litellm.completion(
        model=AZURE_MODEL, api_base=AZURE_BASE, api_version=AZURE_VERSION, api_key=KEY, **NO_MCP, **kwargs
    )


def last_recorded(http: httpx.Client, fake: FakeServer) -> dict[str, Any]:
    entries = http.get(fake.url + "/_fake/requests").json()["requests"]
    assert entries, "the fake provider recorded no request"
    return entries[-1]


def clear_recorded(http: httpx.Client, fake: FakeServer) -> None:
    http.delete(fake.url + "/_fake/requests")


def send(http: httpx.Client, request: UpstreamRequest, extra_headers: dict[str, str] | None = None) -> httpx.Response:
    """Send a translated request the way Envoy would: to its scheme, authority and path."""
    headers = {**request.headers, **(extra_headers or {})}
    url = f"{request.scheme}://{request.authority}{request.path}"
    return http.post(url, content=request.body, headers=headers)


def send_as_openai(http: httpx.Client, fake: FakeServer, request: UpstreamRequest) -> httpx.Response:
    """Send an Azure request to the fake's OpenAI route (the fake does not serve Azure's paths)."""
    headers = {"authorization": f"Bearer {KEY}"}
    return http.post(fake.url + "/v1/chat/completions", content=request.body, headers=headers)


def payload(case: str, **extra: Any) -> dict[str, Any]:
    """An OpenAI request for a case, as a client sends it (the gateway's model alias included)."""
    return {"model": "gateway-alias", **json.loads(json.dumps(CASES[case])), **extra}


def summary(completion: dict[str, Any]) -> dict[str, Any]:
    """The meaningful fields of a chat.completion: per choice content, tool calls, finish reason; usage."""
    choices = {}
    for choice in completion["choices"]:
        message = choice["message"]
        calls = [
            (call["function"]["name"], json.loads(call["function"]["arguments"]))
            for call in message.get("tool_calls") or []
        ]
        choices[choice["index"]] = (message.get("content"), calls, choice["finish_reason"])
    return {"choices": choices, "usage": usage_summary(completion.get("usage"))}


def usage_summary(usage: dict[str, Any] | None) -> tuple[int, int, int, int] | None:
    if not usage:
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"], cached


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client rebuilds from chunks: per choice text, tool calls and finish reason; the usage."""
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            state = choices.setdefault(choice["index"], {"content": "", "tools": {}, "finish": None})
            delta = choice.get("delta") or {}
            state["content"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                tool = state["tools"].setdefault(call.get("index") or 0, {"name": "", "arguments": ""})
                function = call.get("function") or {}
                tool["name"] += function.get("name") or ""
                tool["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                state["finish"] = choice["finish_reason"]
    rebuilt = {
        index: (
            state["content"],
            [(t["name"], json.loads(t["arguments"])) for _, t in sorted(state["tools"].items())],
            state["finish"],
        )
        for index, state in choices.items()
    }
    return {"choices": rebuilt, "usage": usage_summary(usage)}


def feed_in_pieces(stream: StreamTranslator, raw: bytes, size: int) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for start in range(0, len(raw), size):
        chunks.extend(stream.feed(raw[start : start + size]))
    chunks.extend(stream.close())
    return chunks


def credentials(headers: dict[str, str]) -> dict[str, str]:
    """Credential headers as the fake provider records them (fingerprinted)."""
    return {name: redact(name, value) for name, value in headers.items() if name in SECRET_HEADERS}


def credentials_recorded(headers: dict[str, str]) -> dict[str, str]:
    """Credential headers of a request the fake provider recorded."""
    return {name: value for name, value in headers.items() if name in SECRET_HEADERS}


def litellm_refuses(call: Any) -> bool:
    try:
        result = call()
        if hasattr(result, "__next__"):
            list(result)
    except (litellm.UnsupportedParamsError, litellm.BadRequestError):
        return True
    return False


# -- 1. golden requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_chat_request_matches_litellm(fake: FakeServer, http: httpx.Client, provider: str, case: str) -> None:
    """Body, path and credentials equal what litellm.completion() sends; what it refuses, the translator refuses."""
    clear_recorded(http, fake)
    translate = translator(fake, provider)
    if litellm_refuses(lambda: oracle(fake, provider, **CASES[case])):
        with pytest.raises(TranslationError) as refused:
            translate.chat_request(payload(case), KEY)
        assert refused.value.status == 400
        assert KEY not in refused.value.message
        return
    sent = last_recorded(http, fake)
    request = translate.chat_request(payload(case), KEY)
    assert json.loads(request.body) == sent["body"]
    query = f"?{urlencode(sent['query'])}" if sent["query"] else ""
    assert request.path == sent["path"] + query
    assert request.scheme == "http" and request.authority == fake.url.removeprefix("http://")
    assert credentials(request.headers) == credentials_recorded(sent["headers"])
    assert request.headers["content-length"] == str(len(request.body))
    assert request.headers.get("anthropic-version") == sent["headers"].get("anthropic-version")
    assert request.stream is False


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_streaming_request_matches_litellm(fake: FakeServer, http: httpx.Client, provider: str) -> None:
    clear_recorded(http, fake)
    list(oracle(fake, provider, stream=True, stream_options=WITH_USAGE, **CASES["plain"]))
    sent = last_recorded(http, fake)
    request = translator(fake, provider).chat_request(payload("plain", stream=True), KEY)
    assert json.loads(request.body) == sent["body"]
    query = f"?{urlencode(sent['query'])}" if sent["query"] else ""
    assert request.path == sent["path"] + query
    assert request.stream is True


@pytest.mark.parametrize("provider", ["openai", "hosted_vllm", "groq"])
def test_openai_wire_streams_always_ask_for_usage(fake: FakeServer, provider: str) -> None:
    """The gateway prices every stream, so the upstream request asks for the usage chunk.

    (Mistral, Anthropic and Gemini always report stream usage and take no stream_options.)
    """
    translate = translator(fake, provider)
    body = json.loads(translate.chat_request(payload("plain", stream=True), KEY).body)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    body = json.loads(
        translate.chat_request(payload("plain", stream=True, stream_options={"include_usage": False}), KEY).body
    )
    assert body["stream_options"] == {"include_usage": True}


def test_gemini_stream_path_and_key_header(fake: FakeServer) -> None:
    request = translator(fake, "gemini").chat_request(payload("plain", stream=True), KEY)
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in request.path


def test_default_provider_urls() -> None:
    """Without an api_base each provider's public endpoint is used."""
    cases = {
        "openai/gpt-4o-mini": ("https", "api.openai.com", "/v1/chat/completions"),
        "anthropic/claude-3-5-haiku-20241022": ("https", "api.anthropic.com", "/v1/messages"),
        "gemini/gemini-2.5-flash": (
            "https",
            "generativelanguage.googleapis.com",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
        "mistral/mistral-small-latest": ("https", "api.mistral.ai", "/v1/chat/completions"),
        "groq/llama-3.1-8b-instant": ("https", "api.groq.com", "/openai/v1/chat/completions"),
    }
    for model, expected in cases.items():
        request = ProviderTranslator.for_model(model).chat_request(payload("plain"), KEY)
        assert (request.scheme, request.authority, request.path) == expected, model


def test_anthropic_bare_base_url_gets_messages_path() -> None:
    request = ProviderTranslator.for_model("anthropic/claude-3-5-haiku-20241022", "http://proxy:8080").chat_request(
        payload("plain"), KEY
    )
    assert (request.authority, request.path) == ("proxy:8080", "/v1/messages")
    assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"]


def test_anthropic_structured_outputs_header_matches_litellm(fake: FakeServer, http: httpx.Client) -> None:
    """Newer Claude models take json_schema natively, behind an anthropic-beta header LiteLLM adds."""
    model, api_base = "anthropic/claude-haiku-4-5", fake.url + "/v1/messages"
    clear_recorded(http, fake)
    expected = litellm.completion(model=model, api_base=api_base, api_key=KEY, **CASES["json_schema"])
    sent = last_recorded(http, fake)
    translate = ProviderTranslator.for_model(model, api_base)
    request = translate.chat_request(payload("json_schema"), KEY)
    assert json.loads(request.body) == sent["body"] and "output_format" in sent["body"]
    assert request.headers["anthropic-beta"] == sent["headers"]["anthropic-beta"]
    answer = send(http, request)
    translated = translate.chat_response(answer.content, payload("json_schema"))
    assert summary(translated) == summary(expected.model_dump())


def test_translator_attributes(fake: FakeServer) -> None:
    anthropic = translator(fake, "anthropic")
    assert (anthropic.provider, anthropic.upstream_model, anthropic.openai_compatible) == (
        "anthropic",
        "claude-3-5-haiku-20241022",
        False,
    )
    assert translator(fake, "openai").openai_compatible is True
    assert translator(fake, "hosted_vllm").openai_compatible is True
    assert azure_translator().openai_compatible is True
    assert translator(fake, "gemini").openai_compatible is False


def test_request_payload_is_not_modified(fake: FakeServer) -> None:
    """A retry on another provider starts from the same payload."""
    original = payload("tool_result", stream=True)
    snapshot = json.loads(json.dumps(original))
    for provider in PROVIDERS:
        translator(fake, provider).chat_request(original, KEY)
    assert original == snapshot


@pytest.mark.parametrize("case", ["plain", "system_multi_turn", "tools", "json_schema", "n", "seed"])
def test_azure_request_matches_litellm(azure: AzureRecorder, case: str) -> None:
    azure_oracle(**CASES[case])
    sent = azure.requests[-1]
    request = azure_translator().chat_request(payload(case), KEY)
    assert json.loads(request.body) == json.loads(sent.content)
    assert f"https://{request.authority}{request.path}" == str(sent.url)
    assert request.headers["api-key"] == sent.headers["api-key"] == KEY
    assert "authorization" not in request.headers


def test_azure_streaming_request_matches_litellm(azure: AzureRecorder) -> None:
    list(azure_oracle(stream=True, stream_options=WITH_USAGE, **CASES["plain"]))
    sent = azure.requests[-1]
    request = azure_translator().chat_request(payload("plain", stream=True), KEY)
    assert json.loads(request.body) == json.loads(sent.content)
    assert f"https://{request.authority}{request.path}" == str(sent.url)


# -- 2. buffered answers ----------------------------------------------------------------------------

RESPONSE_CASES = [
    "plain",
    "system_multi_turn",
    "tools",
    "tool_result",
    "tool_name_with_dots",
    "json_mode",
    "json_schema",
    "stop",
    "n",
    "max_completion_tokens",
]


@pytest.mark.parametrize("case", RESPONSE_CASES)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_chat_response_matches_litellm(fake: FakeServer, http: httpx.Client, provider: str, case: str) -> None:
    translate = translator(fake, provider)
    try:
        expected = oracle(fake, provider, **CASES[case]).model_dump()
    except litellm.UnsupportedParamsError:
        pytest.skip(f"{provider} does not take the {case!r} parameters")
    request_payload = payload(case)
    request = translate.chat_request(request_payload, KEY)
    answer = send(http, request)
    assert answer.status_code == 200, answer.text
    translated = translate.chat_response(answer.content, request_payload)
    assert summary(translated) == summary(expected)
    # Handing back the attempt's request skips re-deriving its state, with the same result.
    assert summary(translate.chat_response(answer.content, request_payload, request)) == summary(expected)
    assert translated["object"] == "chat.completion" and translated["id"] and translated["created"]
    openai_types.ChatCompletion.model_validate(translated)


@pytest.mark.parametrize("case", ["plain", "tools", "n", "json_schema"])
def test_azure_response_matches_litellm(azure: AzureRecorder, http: httpx.Client, fake: FakeServer, case: str) -> None:
    expected = azure_oracle(**CASES[case]).model_dump()
    translate = azure_translator()
    request_payload = payload(case)
    request = translate.chat_request(request_payload, KEY)
    # The fake serves Azure's wire on its OpenAI route, as the recorder does for LiteLLM.
    answer = send_as_openai(http, fake, request)
    translated = translate.chat_response(answer.content, request_payload)
    assert summary(translated) == summary(expected)


def test_anthropic_cached_tokens_are_reported(fake: FakeServer) -> None:
    """Cache reads in an Anthropic answer show up as OpenAI's prompt_tokens_details.cached_tokens."""
    body = json.dumps(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 90,
                "cache_creation_input_tokens": 0,
                "output_tokens": 3,
            },
        }
    ).encode()
    translated = translator(fake, "anthropic").chat_response(body, payload("plain"))
    usage = translated["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 90
    assert usage["completion_tokens"] == 3
    assert usage["prompt_tokens"] == 100


def test_gemini_cached_tokens_are_reported(fake: FakeServer) -> None:
    body = json.dumps(
        {
            "candidates": [
                {"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 2,
                "totalTokenCount": 102,
                "cachedContentTokenCount": 60,
            },
            "modelVersion": "gemini-2.5-flash",
            "responseId": "abc",
        }
    ).encode()
    usage = translator(fake, "gemini").chat_response(body, payload("plain"))["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 60
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100, 2)


def test_malformed_answer_is_a_bad_gateway(fake: FakeServer) -> None:
    for provider in ("anthropic", "openai", "gemini"):
        with pytest.raises(TranslationError) as failed:
            translator(fake, provider).chat_response(b'{"truncated": ', payload("plain"))
        assert failed.value.status == 502


# -- 3. streams ---------------------------------------------------------------------------------------

STREAM_CASES = ["plain", "tools", "tool_name_with_dots", "n", "json_mode", "max_completion_tokens"]


@pytest.mark.parametrize("size", [1, 7, None])
@pytest.mark.parametrize("case", STREAM_CASES)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_stream_matches_litellm(
    fake: FakeServer, http: httpx.Client, provider: str, case: str, size: int | None
) -> None:
    try:
        expected_chunks = [
            chunk.model_dump()
            for chunk in oracle(fake, provider, stream=True, stream_options=WITH_USAGE, **CASES[case])
        ]
    except litellm.UnsupportedParamsError:
        pytest.skip(f"{provider} does not take the {case!r} parameters")
    translate = translator(fake, provider)
    request_payload = payload(case, stream=True)
    request = translate.chat_request(request_payload, KEY)
    answer = send(http, request)
    assert answer.status_code == 200, answer.text
    raw = answer.content
    chunks = feed_in_pieces(translate.chat_stream(request_payload), raw, size or len(raw))
    assert assemble(feed_in_pieces(translate.chat_stream(request_payload, request), raw, 64)) == assemble(chunks)
    for chunk in chunks:
        openai_types.ChatCompletionChunk.model_validate(chunk)
    mine, theirs = assemble(chunks), assemble(expected_chunks)
    # LiteLLM's stream wrapper keeps the finish_reason of choice 0 only; every choice gets one here.
    assert {i: c[:2] for i, c in mine["choices"].items()} == {i: c[:2] for i, c in theirs["choices"].items()}
    assert mine["choices"][0][2] == theirs["choices"][0][2]
    assert all(finish for _, _, finish in mine["choices"].values())
    assert len({chunk["id"] for chunk in chunks}) == 1
    if provider == "mistral":
        # Real Mistral ends every stream with usage; the fake's OpenAI wire reports it only when
        # asked (stream_options, which LiteLLM does not send Mistral), and LiteLLM then counts
        # tokens itself. Nothing reported, nothing invented: see test_mistral_stream_usage.
        assert mine["usage"] is None
        return
    assert mine["usage"] == theirs["usage"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_stream_is_incremental(fake: FakeServer, http: httpx.Client) -> None:
    """Each event's text, and the finish reason, come out of the feed() that completes them, not at the end."""
    for provider in ("anthropic", "gemini", "mistral", "openai"):
        translate = translator(fake, provider)
        request_payload = payload("plain", stream=True)
        raw = send(http, translate.chat_request(request_payload, KEY)).content
        stream = translate.chat_stream(request_payload)
        separator = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
        events = [event + separator for event in raw.split(separator) if event.strip()]
        texts, finishes = [], []
        for event in events:
            chunks = [chunk for chunk in stream.feed(event) if chunk["choices"]]
            texts.append("".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks))
            finishes += [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"][0]["finish_reason"]]
        tail = stream.close()
        assert sum(1 for text in texts if text) >= 3, provider
        assert "".join(texts) == "Fake reply to: hello world, please answer", provider
        assert finishes == ["stop"], provider
        assert all(not c["choices"] for c in tail), provider


def test_mistral_stream_usage(fake: FakeServer) -> None:
    """Mistral's last chunk carries usage (and may carry the last text): both come through."""
    stream = translator(fake, "mistral").chat_stream(payload("plain", stream=True))
    head = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "mistral-small-latest"}
    first = {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}
    last = {
        **head,
        "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    raw = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in (first, last)) + b"data: [DONE]\n\n"
    chunks = feed_in_pieces(stream, raw, 3)
    assert assemble(chunks) == {"choices": {0: ("Hello", [], "stop")}, "usage": (5, 2, 7, 0)}
    assert chunks[-1]["choices"] == []


def test_stream_role_comes_first_and_finish_reason_once(fake: FakeServer, http: httpx.Client) -> None:
    for provider in ("anthropic", "gemini"):
        translate = translator(fake, provider)
        request_payload = payload("tools", stream=True)
        raw = send(http, translate.chat_request(request_payload, KEY)).content
        chunks = feed_in_pieces(translate.chat_stream(request_payload), raw, len(raw))
        deltas = [c["choices"][0] for c in chunks if c["choices"]]
        assert deltas[0]["delta"]["role"] == "assistant"
        assert [d["finish_reason"] for d in deltas if d["finish_reason"]] == ["tool_calls"]
        first_call = next(d["delta"]["tool_calls"][0] for d in deltas if d["delta"].get("tool_calls"))
        assert first_call["id"] and first_call["function"]["name"] == "get_weather"


def test_azure_stream_matches_litellm(azure: AzureRecorder, http: httpx.Client, fake: FakeServer) -> None:
    expected = [c.model_dump() for c in azure_oracle(stream=True, stream_options=WITH_USAGE, **CASES["tools"])]
    translate = azure_translator()
    request_payload = payload("tools", stream=True)
    request = translate.chat_request(request_payload, KEY)
    raw = send_as_openai(http, fake, request).content
    chunks = feed_in_pieces(translate.chat_stream(request_payload), raw, 5)
    assert assemble(chunks) == assemble(expected)


def test_buffered_answer_replayed_as_stream(fake: FakeServer, http: httpx.Client) -> None:
    """Groq takes response_format only unstreamed: LiteLLM asks for a buffered answer and replays it."""
    translate = translator(fake, "groq")
    request_payload = payload("json_schema", stream=True)
    request = translate.chat_request(request_payload, KEY)
    assert request.stream is False and "stream" not in json.loads(request.body)
    answer = oracle(fake, "groq", stream=True, stream_options=WITH_USAGE, **CASES["json_schema"])
    expected = [chunk.model_dump() for chunk in answer]
    raw = send(http, request).content
    stream = translate.chat_stream(request_payload)
    chunks = feed_in_pieces(stream, raw, 10)
    for chunk in chunks:
        openai_types.ChatCompletionChunk.model_validate(chunk)
    assert assemble(chunks)["choices"] == assemble(expected)["choices"]
    assert chunks[-1]["choices"] == []


def test_stream_usage_keeps_cached_tokens(fake: FakeServer) -> None:
    """Cache reads reported at a stream's start are still in the usage chunk at its end."""
    start_usage = {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 90}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022"}
    events = [
        {"type": "message_start", "message": {**message, "content": [], "usage": {**start_usage, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    ]
    raw = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    chunks = feed_in_pieces(translator(fake, "anthropic").chat_stream(payload("plain", stream=True)), raw, 13)
    assert assemble(chunks) == {"choices": {0: ("Hi", [], "stop")}, "usage": (105, 7, 112, 90)}

    usage = {"promptTokenCount": 100, "candidatesTokenCount": 2, "totalTokenCount": 102, "cachedContentTokenCount": 60}
    candidate = {"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "STOP", "index": 0}
    raw = b"data: " + json.dumps({"candidates": [candidate], "usageMetadata": usage}).encode() + b"\r\n\r\n"
    chunks = feed_in_pieces(translator(fake, "gemini").chat_stream(payload("plain", stream=True)), raw, 13)
    assert assemble(chunks) == {"choices": {0: ("Hi", [], "stop")}, "usage": (100, 2, 102, 60)}


def test_gemini_stream_cut_short_still_reports_usage(fake: FakeServer, http: httpx.Client) -> None:
    """Usage held back from Gemini's intermediate events is reported when the stream ends early."""
    translate = translator(fake, "gemini")
    request_payload = payload("plain", stream=True)
    raw = send(http, translate.chat_request(request_payload, KEY)).content
    events = [event + b"\r\n\r\n" for event in raw.split(b"\r\n\r\n") if event.strip()]
    stream = translate.chat_stream(request_payload)
    chunks = [chunk for event in events[:-1] for chunk in stream.feed(event)] + stream.close()
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0
    assert assemble(chunks)["choices"][0][2] == "stop"


def test_stream_error_event_raises(fake: FakeServer) -> None:
    overloaded = (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    stream = translator(fake, "anthropic").chat_stream(payload("plain", stream=True))
    with pytest.raises(TranslationError) as failed:
        stream.feed(overloaded)
    assert (failed.value.status, failed.value.message, failed.value.code) == (502, "Overloaded", "overloaded_error")
    gemini_error = (
        b'data: {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}\r\n\r\n'
    )
    with pytest.raises(TranslationError) as failed:
        translator(fake, "gemini").chat_stream(payload("plain", stream=True)).feed(gemini_error)
    assert failed.value.message == "Resource exhausted"


def test_malformed_stream_event_raises(fake: FakeServer) -> None:
    for provider in ("anthropic", "openai"):
        with pytest.raises(TranslationError) as failed:
            translator(fake, provider).chat_stream(payload("plain", stream=True)).feed(b"data: {not json\n\n")
        assert failed.value.status == 502


# -- Ollama (newline-delimited JSON streams; the fake provider does not speak Ollama) -------------------


class OllamaServer:
    """A canned Ollama /api/chat on a thread: records each request, answers one fixed reply or tool call."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                lines = ollama_answer(tools=bool(body.get("tools")), stream=bool(body.get("stream")))
                content = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
                self.send_response(200)
                self.send_header("content-type", "application/x-ndjson" if body.get("stream") else "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def ollama_answer(tools: bool, stream: bool) -> list[dict[str, Any]]:
    head = {"model": "llama3.1", "created_at": "2025-01-01T00:00:00Z"}
    done = {**head, "done": True, "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 5}
    empty = {"role": "assistant", "content": ""}
    if tools:
        call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
        message = {"role": "assistant", "content": "", "tool_calls": [call]}
        if stream:
            return [{**head, "message": message, "done": False}, {**done, "message": empty}]
        return [{**done, "message": message}]
    if stream:
        texts = ("Hel", "lo", " there")
        pieces = [{**head, "message": {"role": "assistant", "content": text}, "done": False} for text in texts]
        return [*pieces, {**done, "message": empty}]
    return [{**done, "message": {"role": "assistant", "content": "Hello there"}}]


@pytest.fixture(scope="module")
def ollama() -> Iterator[OllamaServer]:
    server = OllamaServer()
    yield server
    server.close()


@pytest.mark.parametrize("case", ["plain", "system_multi_turn", "tools", "tool_result", "json_mode", "stop", "seed"])
def test_ollama_matches_litellm(ollama: OllamaServer, http: httpx.Client, case: str) -> None:
    model = "ollama_chat/llama3.1"
    expected = litellm.completion(model=model, api_base=ollama.url, **NO_MCP, **CASES[case]).model_dump()
    sent = ollama.requests[-1]
    translate = ProviderTranslator.for_model(model, api_base=ollama.url)
    request_payload = payload(case)
    request = translate.chat_request(request_payload, None)
    assert json.loads(request.body) == sent["body"]
    assert request.path == sent["path"] == "/api/chat"
    answer = send(http, request)
    assert summary(translate.chat_response(answer.content, request_payload)) == summary(expected)


@pytest.mark.parametrize("case", ["plain", "tools"])
def test_ollama_stream_matches_litellm(ollama: OllamaServer, http: httpx.Client, case: str) -> None:
    model = "ollama_chat/llama3.1"
    expected = [
        c.model_dump()
        for c in litellm.completion(
            model=model, api_base=ollama.url, stream=True, stream_options=WITH_USAGE, **NO_MCP, **CASES[case]
        )
    ]
    translate = ProviderTranslator.for_model(model, api_base=ollama.url)
    request_payload = payload(case, stream=True)
    raw = send(http, translate.chat_request(request_payload, None)).content
    for size in (1, 7, len(raw)):
        chunks = feed_in_pieces(translate.chat_stream(request_payload), raw, size)
        for chunk in chunks:
            openai_types.ChatCompletionChunk.model_validate(chunk)
        assert assemble(chunks) == assemble(expected)
        assert chunks[-1]["choices"] == []


# -- embeddings ---------------------------------------------------------------------------------------

EMBEDDING_PROVIDERS = {
    "openai": ("openai/text-embedding-3-small", "/v1"),
    "mistral": ("mistral/mistral-embed", "/v1"),
    "hosted_vllm": ("hosted_vllm/bge-small", "/v1"),
    "gemini": ("gemini/text-embedding-004", "/v1beta"),
}
EMBEDDING_CASES: dict[str, dict[str, Any]] = {
    "list": {"input": ["hello", "world"]},
    "string": {"input": "hello"},
    "dimensions": {"input": ["hello"], "dimensions": 8},
    "float": {"input": ["hello"], "encoding_format": "float"},
}


@pytest.mark.parametrize("case", sorted(EMBEDDING_CASES))
@pytest.mark.parametrize("provider", sorted(EMBEDDING_PROVIDERS))
def test_embeddings_request_matches_litellm(fake: FakeServer, http: httpx.Client, provider: str, case: str) -> None:
    model, suffix = EMBEDDING_PROVIDERS[provider]
    translate = ProviderTranslator.for_model(model, api_base=fake.url + suffix)
    request_payload = {"model": "alias", **EMBEDDING_CASES[case]}
    clear_recorded(http, fake)
    try:
        litellm.embedding(model=model, api_base=fake.url + suffix, api_key=KEY, **EMBEDDING_CASES[case])
    except litellm.UnsupportedParamsError:
        with pytest.raises(TranslationError) as refused:
            translate.embeddings_request(request_payload, KEY)
        assert refused.value.status == 400
        return
    except litellm.NotFoundError:
        pass  # the fake provider has no batchEmbedContents; the request is recorded all the same
    sent = last_recorded(http, fake)
    request = translate.embeddings_request(request_payload, KEY)
    assert json.loads(request.body) == sent["body"]
    assert request.path == sent["path"]
    assert credentials(request.headers) == credentials_recorded(sent["headers"])


@pytest.mark.parametrize("provider", ["openai", "mistral", "hosted_vllm"])
def test_embeddings_response_matches_litellm(fake: FakeServer, http: httpx.Client, provider: str) -> None:
    model, suffix = EMBEDDING_PROVIDERS[provider]
    expected = litellm.embedding(model=model, api_base=fake.url + suffix, api_key=KEY, input=["hello", "world"])
    translate = ProviderTranslator.for_model(model, api_base=fake.url + suffix)
    request_payload = {"model": "alias", "input": ["hello", "world"]}
    answer = send(http, translate.embeddings_request(request_payload, KEY))
    translated = translate.embeddings_response(answer.content, request_payload)
    assert [item["embedding"] for item in translated["data"]] == [item["embedding"] for item in expected.data]
    assert translated["usage"]["prompt_tokens"] == expected.usage.prompt_tokens


def test_gemini_embeddings_response() -> None:
    translate = ProviderTranslator.for_model("gemini/text-embedding-004")
    request_payload = {"model": "alias", "input": ["hello", "world"]}
    body = json.dumps({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}).encode()
    translated = translate.embeddings_response(body, request_payload)
    assert translated["object"] == "list"
    assert [(d["index"], d["embedding"]) for d in translated["data"]] == [(0, [0.1, 0.2]), (1, [0.3, 0.4])]
    assert translated["usage"]["prompt_tokens"] > 0


def test_azure_embeddings_request_matches_litellm(azure: AzureRecorder) -> None:
    litellm.embedding(
        model="azure/my-embeddings", api_base=AZURE_BASE, api_version=AZURE_VERSION, api_key=KEY, input=["a", "b"]
    )
    sent = azure.requests[-1]
    translate = ProviderTranslator.for_model("azure/my-embeddings", AZURE_BASE, {"api_version": AZURE_VERSION})
    request = translate.embeddings_request({"model": "alias", "input": ["a", "b"]}, KEY)
    assert f"https://{request.authority}{request.path}" == str(sent.url)
    assert request.headers["api-key"] == KEY
    # The openai SDK under LiteLLM asks for base64 and decodes it; the gateway passes the
    # client's own choice on (OpenAI's default is float), so only that field differs.
    sent_body = json.loads(sent.content)
    assert sent_body.pop("encoding_format") == "base64"
    assert json.loads(request.body) == sent_body


# -- 4. errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "status", "kind"),
    [
        ("openai", 429, "rate_limit_error"),
        ("openai", 401, "authentication_error"),
        ("openai", 500, "api_error"),
        ("anthropic", 429, "rate_limit_error"),
        ("anthropic", 400, "invalid_request_error"),
        ("anthropic", 529, "api_error"),
        ("gemini", 429, "rate_limit_error"),
        ("gemini", 403, "permission_error"),
        ("gemini", 503, "api_error"),
    ],
)
def test_provider_error_bodies(fake: FakeServer, http: httpx.Client, provider: str, status: int, kind: str) -> None:
    translate = translator(fake, provider)
    answer = send(http, translate.chat_request(payload("plain"), KEY), {"x-fake-status": str(status)})
    assert answer.status_code == status
    message, error_type = translate.error(answer.status_code, answer.content)
    body = answer.json()
    assert message == (body["error"]["message"] if isinstance(body, dict) else body[0]["error"]["message"])
    assert error_type == kind


def test_error_body_shapes(fake: FakeServer) -> None:
    translate = translator(fake, "hosted_vllm")
    assert translate.error(400, b'{"object": "error", "message": "bad things", "type": "BadRequestError"}') == (
        "bad things",
        "invalid_request_error",
    )
    assert translate.error(422, b'{"detail": [{"loc": ["body"], "msg": "field required"}]}') == (
        "field required",
        "invalid_request_error",
    )
    assert translate.error(404, b'[{"error": {"code": 404, "message": "no model", "status": "NOT_FOUND"}}]') == (
        "no model",
        "not_found_error",
    )
    html = b"<html>upstream connect error</html>"
    assert translate.error(502, html) == (html.decode(), "api_error")
    message, kind = translate.error(503, b"")
    assert "503" in message and kind == "api_error"


# -- 5. refusals ----------------------------------------------------------------------------------------


def test_unknown_provider_names_the_model_string() -> None:
    with pytest.raises(TranslationError) as failed:
        ProviderTranslator.for_model("nosuchprovider/some-model")
    assert "nosuchprovider/some-model" in failed.value.message


def test_missing_key_is_a_gateway_error(fake: FakeServer) -> None:
    for provider in ("openai", "anthropic", "gemini", "mistral"):
        with pytest.raises(TranslationError) as failed:
            translator(fake, provider).chat_request(payload("plain"), None)
        assert failed.value.status == 500 and failed.value.code == "missing_credentials"
        assert PROVIDERS[provider][0] in failed.value.message
    with pytest.raises(TranslationError):
        azure_translator().embeddings_request({"input": "x"}, "")


def test_request_repr_hides_credentials(fake: FakeServer) -> None:
    for provider in ("openai", "anthropic", "gemini"):
        assert KEY not in repr(translator(fake, provider).chat_request(payload("plain"), KEY))
    assert KEY not in repr(azure_translator().chat_request(payload("plain"), KEY))


def test_endpoints_without_a_public_url_need_an_api_base() -> None:
    for model in ("hosted_vllm/llama-3.1-8b", AZURE_MODEL):
        with pytest.raises(TranslationError) as failed:
            ProviderTranslator.for_model(model)
        assert failed.value.status == 500 and "api_base" in failed.value.message


def test_self_hosted_servers_need_no_key(fake: FakeServer, http: httpx.Client) -> None:
    request = translator(fake, "hosted_vllm").chat_request(payload("plain"), None)
    assert not credentials(request.headers)


def test_anthropic_embeddings_are_refused(fake: FakeServer) -> None:
    with pytest.raises(TranslationError) as failed:
        translator(fake, "anthropic").embeddings_request({"model": "x", "input": "hi"}, KEY)
    assert failed.value.status == 400 and "embeddings" in failed.value.message


def test_unsupported_parameter_is_a_client_error(fake: FakeServer) -> None:
    with pytest.raises(TranslationError) as failed:
        translator(fake, "anthropic").chat_request(payload("n"), KEY)
    assert failed.value.status == 400 and failed.value.code == "unsupported_parameter"
    assert "'n'" in failed.value.message and "litellm" not in failed.value.message.lower()
    dropped = ProviderTranslator.for_model(PROVIDERS["anthropic"][0], options={"drop_params": True})
    assert "n" not in json.loads(dropped.chat_request(payload("n"), KEY).body)


def test_remote_image_for_gemini_is_refused_without_download(fake: FakeServer) -> None:
    with pytest.raises(TranslationError) as failed:
        translator(fake, "gemini").chat_request(payload("image_remote_url"), KEY)
    assert failed.value.status == 400 and failed.value.code == "image_url_unsupported"


def test_bad_messages_are_a_client_error(fake: FakeServer) -> None:
    for bad in ({"messages": []}, {"messages": "hi"}, {}):
        with pytest.raises(TranslationError) as failed:
            translator(fake, "anthropic").chat_request({"model": "x", **bad}, KEY)
        assert failed.value.status == 400


def test_client_cannot_set_litellm_controls(fake: FakeServer) -> None:
    """Body fields that steer LiteLLM itself (api_base, api_key, mock_response...) are not honoured."""
    request = translator(fake, "openai").chat_request(
        payload("plain", api_base="http://evil", api_key="stolen", mock_response="x", custom_llm_provider="anthropic"),
        KEY,
    )
    body = json.loads(request.body)
    assert not {"api_base", "api_key", "mock_response", "custom_llm_provider"} & body.keys()
    assert request.authority == fake.url.removeprefix("http://")


def test_an_unknown_embeddings_parameter_reaches_the_provider_at_the_top_level() -> None:
    """LiteLLM puts parameters it does not know in `extra_body`, which the openai SDK merges; so do we."""
    translator = ProviderTranslator.for_model("openai/text-embedding-3-small", "http://127.0.0.1:9/v1")
    request = translator.embeddings_request({"model": "e", "input": ["a"], "user": "u1", "frobnicate": 1}, "k")
    body = json.loads(request.body)
    assert body["frobnicate"] == 1 and "extra_body" not in body and body["input"] == ["a"]
