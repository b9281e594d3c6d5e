"""The openai SDK, pointed at Envoy, gets complete answers with usage and cost headers."""

from __future__ import annotations

import time

import openai
import pytest

from extproc.ops.launcher import Stack
from tests.support.sdk_clients import TEST_API_KEY, openai_client

from .conftest import access_log_entry, fake_requests

pytestmark = pytest.mark.e2e


def client(stack: Stack) -> openai.OpenAI:
    return openai_client(stack.base_url)


def test_sync_completion_through_alias(gateway: Stack) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "Hello there"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Fake reply to: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-gateway-served-model"] == "gpt-4o-mini"
    assert raw.headers["x-gateway-provider"] == "openai"
    assert int(raw.headers["x-gateway-prompt-tokens"]) == completion.usage.prompt_tokens
    assert int(raw.headers["x-gateway-completion-tokens"]) == completion.usage.completion_tokens
    assert float(raw.headers["x-gateway-cost-usd"]) > 0


@pytest.mark.parametrize(("requested", "served"), [("gpt-4o", "gpt-4o"), ("smart", "gpt-4o"), ("default", "gpt-4o-mini")])
def test_each_model_and_alias_reaches_its_endpoint(gateway: Stack, requested: str, served: str) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model=requested, messages=[{"role": "user", "content": f"route {requested}"}]
    )
    assert raw.headers["x-gateway-served-model"] == served
    sent = [r for r in fake_requests(gateway) if _text(r) == f"route {requested}"]
    assert sent and sent[-1]["body"]["model"] == served


def test_provider_gets_gateway_credentials_not_the_clients(gateway: Stack) -> None:
    for model in ("fast", "smart"):  # router-prepared and per-attempt clusters
        client(gateway).chat.completions.create(model=model, messages=[{"role": "user", "content": f"creds {model}"}])
    received = [r for r in fake_requests(gateway) if _text(r).startswith("creds ")]
    assert len(received) == 2
    for request in received:
        # The fake provider only accepts the key `up` generated; it records a fingerprint, never the key.
        assert request["headers"]["authorization"].startswith("Bearer sha256:")
        assert request["headers"]["host"] == f"127.0.0.1:{gateway.fake_provider_port}"
        assert not any(name.startswith("x-gateway-") for name in request["headers"])


async def test_async_client(gateway: Stack) -> None:
    async_client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TEST_API_KEY, max_retries=0)
    completion = await async_client.chat.completions.create(
        model="smart", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Async hello"}]
    )
    assert completion.choices[0].message.content == "Fake reply to: Async hello"
    await async_client.close()


def test_stream_with_usage_requested(gateway: Stack) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="fast",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Stream me a longer sentence please"}],
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply to: Stream me a longer sentence please"
    assert len([c for c in chunks if c.choices]) > 3
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_stream_without_usage_hides_the_injected_usage_chunk(gateway: Stack) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="smart", stream=True, messages=[{"role": "user", "content": "Stream without usage"}]
    )
    chunks = list(raw.parse())
    # Every chunk has a choice: a client indexing choices[0] must not crash on a usage chunk it never asked for.
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Fake reply to: Stream without usage"
    # The gateway still counted the stream: it asked the provider for usage and logged it.
    sent = [r for r in fake_requests(gateway) if _text(r) == "Stream without usage"][-1]
    assert sent["body"]["stream_options"] == {"include_usage": True}
    entry = access_log_entry(gateway, raw.headers["x-gateway-request-id"])
    assert entry["stream"] is True and entry["completion_tokens"] > 0 and entry["cost_usd"] > 0


def test_stream_is_flushed_chunk_by_chunk(gateway: Stack) -> None:
    """With 300 ms between upstream chunks, the first chunk arrives long before the last."""
    start = time.monotonic()
    arrivals = []
    stream = client(gateway).chat.completions.create(
        model="fast",
        stream=True,
        messages=[{"role": "user", "content": "slow stream of several chunks"}],
        extra_headers={"x-fake-chunk-delay-ms": "300"},
    )
    for _ in stream:
        arrivals.append(time.monotonic() - start)
    assert len(arrivals) >= 4
    assert arrivals[-1] - arrivals[0] >= 0.6


def test_access_log_line_has_the_decisions(gateway: Stack) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "log me"}]
    )
    entry = access_log_entry(gateway, raw.headers["x-gateway-request-id"])
    usage = raw.parse().usage
    assert usage is not None
    assert entry["status"] == 200
    assert entry["requested_model"] == "fast"
    assert entry["served_model"] == "gpt-4o-mini"
    assert entry["provider"] == "openai"
    assert entry["route"] == "gpt-4o-mini"
    assert entry["tenant"] == "test"  # the tenant of the key the client sent
    assert entry["prompt_tokens"] == usage.prompt_tokens
    assert entry["completion_tokens"] == usage.completion_tokens
    assert entry["cost_usd"] == pytest.approx(float(raw.headers["x-gateway-cost-usd"]), rel=1e-6)
    assert entry["cache"] == "off"  # the shipped config caches nothing
    assert "alias:fast->gpt-4o-mini" in entry["decisions"]
    assert isinstance(entry["latency_ms"], int) and isinstance(entry["upstream_latency_ms"], int)


def test_models_list(gateway: Stack) -> None:
    models = {m.id: m for m in client(gateway).models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "fast", "smart", "default"} <= set(models)


def _text(request: dict) -> str:
    body = request.get("body")
    messages = (body.get("messages") if isinstance(body, dict) else None) or []
    content = messages[-1].get("content") if messages else ""
    return content if isinstance(content, str) else ""
