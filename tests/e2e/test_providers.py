"""Every provider wire format through real Envoy, with the real openai and anthropic SDKs.

The shipped envoy.yaml routes `fast` and `smart` to OpenAI-format endpoints,
`claude` to an Anthropic endpoint and `gemini` to a Gemini (AI Studio)
endpoint, all served by the fake provider speaking those wire formats.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from extproc.ops.envoy_config import FAKE_PROVIDER_KEY_ENV
from extproc.ops.launcher import Stack
from tests.support.sdk_clients import ADMIN_AUTH, anthropic_client, openai_client

from .conftest import access_log_entry, fake_requests

pytestmark = pytest.mark.e2e

CHAT_MODELS = {
    # alias: (provider, LiteLLM model string, upstream path)
    "fast": ("openai", "openai/gpt-4o-mini", "/v1/chat/completions"),
    "smart": ("openai", "openai/gpt-4o", "/v1/chat/completions"),
    "claude": ("anthropic", "anthropic/claude-haiku-4-5", "/v1/messages"),
    "gemini": ("gemini", "gemini/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash"),
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


def _litellm_cost(model: str, prompt: int, completion: int, cached: int = 0) -> float:
    import litellm

    a, b = litellm.cost_per_token(
        model=model, prompt_tokens=prompt, completion_tokens=completion, cache_read_input_tokens=cached
    )
    return a + b


def _last_request(stack: Stack) -> dict[str, Any]:
    return fake_requests(stack)[-1]


@pytest.mark.parametrize("alias", list(CHAT_MODELS))
def test_buffered_chat_through_each_provider(gateway: Stack, alias: str) -> None:
    provider, model, path = CHAT_MODELS[alias]
    raw = openai_client(gateway.base_url).chat.completions.with_raw_response.create(
        model=alias,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Hello {alias}"}],
        max_tokens=200,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == f"Fake reply to: Hello {alias}"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    headers = raw.headers
    assert headers["x-gateway-provider"] == provider
    assert headers["x-gateway-prompt-tokens"] == str(usage.prompt_tokens)
    assert headers["x-gateway-completion-tokens"] == str(usage.completion_tokens)
    assert float(headers["x-gateway-cost-usd"]) == pytest.approx(
        _litellm_cost(model, usage.prompt_tokens, usage.completion_tokens), rel=1e-6
    )
    sent = _last_request(gateway)
    assert sent["path"].startswith(path)


@pytest.mark.parametrize("alias", list(CHAT_MODELS))
def test_streamed_chat_through_each_provider_reports_usage_and_cost(gateway: Stack, alias: str) -> None:
    _, model, _ = CHAT_MODELS[alias]
    stream = openai_client(gateway.base_url).chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": "Describe a lighthouse lens in detail, please."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply to: Describe a lighthouse lens in detail, please."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "streamed in pieces"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    figures = usage_chunk.model_extra["x_gateway"]  # type: ignore[index]
    assert figures["cost_usd"] == pytest.approx(
        _litellm_cost(model, usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens), rel=1e-6
    )
    assert figures["usage_estimated"] is False


@pytest.mark.parametrize("alias", ["smart", "claude", "gemini"])
def test_tool_calls_and_tool_results_round_trip(gateway: Stack, alias: str) -> None:
    client = openai_client(gateway.base_url)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model=alias, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "days"}
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
    ]
    second = client.chat.completions.create(model=alias, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    assert "Sunny, 21 C" in (second.choices[0].message.content or "")


@pytest.mark.parametrize("alias", ["smart", "claude", "gemini"])
def test_streamed_tool_call_arguments_arrive_whole(gateway: Stack, alias: str) -> None:
    client = openai_client(gateway.base_url)
    with client.chat.completions.stream(
        model=alias, messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER]  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and set(json.loads(call.function.arguments)) == {"city", "days"}


CAT_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "cat",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
        },
    },
}


@pytest.mark.parametrize("alias", ["fast", "claude", "gemini"])
def test_structured_output_answers_json_matching_the_schema(gateway: Stack, alias: str) -> None:
    completion = openai_client(gateway.base_url).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "Describe a cat."}], response_format=CAT_SCHEMA  # type: ignore[arg-type]
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert isinstance(answer["name"], str) and isinstance(answer["age"], int)


@pytest.mark.parametrize("alias", ["fast", "gemini"])
def test_json_mode_answers_parseable_json(gateway: Stack, alias: str) -> None:
    # Anthropic has no schema-less JSON mode; LiteLLM (and so the gateway) sends claude none.
    completion = openai_client(gateway.base_url).chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": "Give me a JSON object describing a cat."}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


# LiteLLM's TypedDicts use ReadOnly, which pydantic warns about when it builds their schemas.
@pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")
def test_translated_request_equals_what_litellm_sends(gateway: Stack) -> None:
    import litellm

    params: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "One"},
            {"role": "assistant", "content": "Two"},
            {"role": "user", "content": "Three?"},
        ],
        "max_tokens": 77,
        "temperature": 0.3,
        "stop": ["END"],
    }
    openai_client(gateway.base_url).chat.completions.create(model="claude", **params)
    through_gateway = _last_request(gateway)
    litellm.completion(
        model="anthropic/claude-haiku-4-5",
        api_base=f"http://127.0.0.1:{gateway.fake_provider_port}",
        api_key=gateway.env[FAKE_PROVIDER_KEY_ENV],
        max_retries=0,
        **params,
    )
    direct = _last_request(gateway)
    assert through_gateway["path"] == direct["path"]
    assert through_gateway["body"] == direct["body"]


@pytest.mark.parametrize("alias", ["fast", "claude", "gemini"])
def test_anthropic_sdk_against_any_provider(gateway: Stack, alias: str) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    message = client.messages.create(
        model=alias, max_tokens=200, system="Be brief.", messages=[{"role": "user", "content": f"Hi {alias}"}]
    )
    assert message.type == "message" and message.role == "assistant" and message.model == alias
    assert message.content[0].type == "text" and message.content[0].text == f"Fake reply to: Hi {alias}"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    with client.messages.stream(
        model=alias, max_tokens=200, messages=[{"role": "user", "content": f"Stream {alias}"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == f"Fake reply to: Stream {alias}" and len(texts) > 1
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@pytest.mark.parametrize("alias", ["smart", "claude"])
def test_anthropic_sdk_tool_use(gateway: Stack, alias: str) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    tool = {"name": "get_weather", "description": "Weather", "input_schema": WEATHER["function"]["parameters"]}
    message = client.messages.create(
        model=alias, max_tokens=200, tools=[tool], messages=[{"role": "user", "content": "weather?"}]  # type: ignore[list-item]
    )
    assert message.stop_reason == "tool_use"
    block = next(b for b in message.content if b.type == "tool_use")
    assert block.name == "get_weather" and set(block.input) == {"city", "days"}  # type: ignore[arg-type]


def test_anthropic_clients_get_anthropic_errors(gateway: Stack) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert "nope" in raised.value.message
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="claude", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model="fast",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": "429"},
        )


@pytest.mark.parametrize(("alias", "status", "error"), [("claude", 429, openai.RateLimitError), ("gemini", 400, openai.BadRequestError), ("claude", 500, openai.InternalServerError)])
def test_provider_errors_reach_openai_clients_in_openai_format(
    gateway: Stack, alias: str, status: int, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as raised:
        openai_client(gateway.base_url).chat.completions.create(
            model=alias, messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-status": str(status)}
        )
    body = raised.value.body
    assert isinstance(body, dict) and body["message"] and body["type"]


def test_embeddings_are_routed_and_priced(gateway: Stack) -> None:
    raw = openai_client(gateway.base_url).embeddings.with_raw_response.create(
        model="embed", input=["first text", "second text"]
    )
    result = raw.parse()
    assert len(result.data) == 2 and len(result.data[0].embedding) > 10
    assert result.usage.prompt_tokens > 0
    assert raw.headers["x-gateway-served-model"] == "text-embedding-3-small"
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
        _litellm_cost("text-embedding-3-small", result.usage.prompt_tokens, 0), rel=1e-6
    )


def test_chat_model_on_the_embeddings_endpoint_is_400(gateway: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(gateway.base_url).embeddings.create(model="fast", input="x")
    assert raised.value.code == "wrong_model_kind"


def test_models_list_offers_every_configured_model(gateway: Stack) -> None:
    ids = {m.id for m in openai_client(gateway.base_url).models.list()}
    assert {"gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "gemini-2.5-flash", "text-embedding-3-small", "claude"} <= ids


def test_cost_estimate_and_dry_run_call_no_provider(gateway: Stack, http: httpx.Client) -> None:
    before = len(fake_requests(gateway))
    body = {"model": "claude", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 100}
    estimate = http.post("/v1/gateway/cost-estimate", json=body)
    assert estimate.status_code == 200 and estimate.json()["max_cost_usd"] > 0
    dry = http.post("/v1/chat/completions", json=body, headers={"llm-gateway-dry-run": "1"})
    assert dry.json() == estimate.json()
    capped = http.post("/v1/chat/completions", json=body, headers={"llm-gateway-max-cost-usd": "0.0000001"})
    assert capped.status_code == 400 and capped.json()["error"]["code"] == "cost_limit_exceeded"
    assert len(fake_requests(gateway)) == before


def test_stream_cost_is_in_the_access_log(gateway: Stack) -> None:
    stream = openai_client(gateway.base_url).chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "log me"}], stream=True
    )
    request_id = stream.headers["x-gateway-request-id"]
    for _ in stream.parse():
        pass
    entry = access_log_entry(gateway, request_id)
    assert entry["provider"] == "anthropic" and float(entry["cost_usd"]) > 0 and int(entry["completion_tokens"]) > 0


def test_metrics_count_tokens_and_cost_per_model(gateway: Stack, http: httpx.Client) -> None:
    openai_client(gateway.base_url).chat.completions.create(model="gemini", messages=[{"role": "user", "content": "count"}])
    response = http.get("/metrics", headers=ADMIN_AUTH)
    assert response.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    cost = [v for (name, labels), v in samples.items() if name == "llm_gateway_cost_usd_total" and ("model", "gemini-2.5-flash") in labels]
    assert cost and cost[0] > 0
    prompt = [
        v
        for (name, labels), v in samples.items()
        if name == "llm_gateway_tokens_total" and ("type", "prompt") in labels and ("provider", "gemini") in labels
    ]
    assert prompt and prompt[0] > 0


def test_one_scrape_has_the_gateways_latency_figures_and_envoys_own_stats(gateway: Stack, http: httpx.Client) -> None:
    client = openai_client(gateway.base_url)
    client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "scrape me"}])
    chunks = list(client.chat.completions.create(
        model="fast", stream=True, max_tokens=40, messages=[{"role": "user", "content": "a long stream please"}]))  # fmt: skip
    assert len(chunks) > 2
    response = http.get("/metrics", headers=ADMIN_AUTH)
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}  # all of it parses

    def total(family: str, sample: str, **labels: str) -> float:
        return sum(
            s.value for s in families[family].samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )  # fmt: skip

    # The gateway's own time, for every request it saw, and the provider's time as Envoy measured it.
    assert total("llm_gateway_overhead_seconds", "llm_gateway_overhead_seconds_count", route="gpt-4o-mini") >= 2
    assert total("llm_gateway_overhead_seconds", "llm_gateway_overhead_seconds_sum", route="gpt-4o-mini") > 0
    upstream = "llm_gateway_upstream_latency_seconds"
    assert total(upstream, upstream + "_count", model="gpt-4o-mini", provider="openai") >= 2
    per_token = "gen_ai_server_time_per_output_token_seconds"
    assert total(per_token, per_token + "_count", gen_ai_request_model="gpt-4o-mini") >= 1
    # Envoy's statistics follow the service's, from its admin interface.
    requests = "envoy_cluster_upstream_rq"  # a counter family: its sample ends in _total
    assert total(requests, requests + "_total", envoy_cluster_name="fake_openai_gpt_4o_mini") >= 2


def _own_non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_metrics_are_not_served_to_other_hosts(gateway: Stack) -> None:
    address = _own_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    # The listener binds 0.0.0.0: reached through the machine's own address, the peer is not loopback.
    # A forged X-Forwarded-For does not help: Envoy appends the real peer. (With an admin key, any
    # peer is answered; without one, none is in the shipped configuration.)
    response = httpx.get(
        f"http://{address}:{gateway.port}/metrics", headers={"x-forwarded-for": "127.0.0.1"}, timeout=10
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"


@pytest.mark.parametrize("alias", ["claude", "gemini"])
def test_translated_streams_are_flushed_chunk_by_chunk(gateway: Stack, alias: str) -> None:
    """With 300 ms between upstream events, translated chunks reach the client as they come."""
    start = time.monotonic()
    arrivals = []
    stream = openai_client(gateway.base_url).chat.completions.create(
        model=alias,
        stream=True,
        messages=[{"role": "user", "content": "slow stream of several chunks"}],
        extra_headers={"x-fake-chunk-delay-ms": "300"},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
    assert len(arrivals) >= 3
    assert arrivals[-1] - arrivals[0] >= 0.5


def test_anthropic_stream_is_flushed_event_by_event(gateway: Stack) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    start = time.monotonic()
    arrivals = []
    with client.messages.stream(
        model="fast",
        max_tokens=200,
        messages=[{"role": "user", "content": "slow stream of several chunks"}],
        extra_headers={"x-fake-chunk-delay-ms": "300"},
    ) as stream:
        for _ in stream.text_stream:
            arrivals.append(time.monotonic() - start)
    assert len(arrivals) >= 3 and arrivals[-1] - arrivals[0] >= 0.5


def test_anthropic_clients_get_their_own_long_tool_names_back(gateway: Stack) -> None:
    # OpenAI's format allows 64 characters; the gateway shortens longer names and maps them back.
    name = "mcp__weather_service__get_the_current_weather_forecast_for_a_given_city_name"
    tool = {"name": name, "description": "Weather", "input_schema": WEATHER["function"]["parameters"]}
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    message = client.messages.create(
        model="smart", max_tokens=200, tools=[tool], messages=[{"role": "user", "content": "weather?"}]  # type: ignore[list-item]
    )
    assert [b.name for b in message.content if b.type == "tool_use"] == [name]
    with client.messages.stream(
        model="smart", max_tokens=200, tools=[tool], messages=[{"role": "user", "content": "weather?"}]  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_message()
    assert [b.name for b in final.content if b.type == "tool_use"] == [name]


def test_envoys_own_errors_reach_anthropic_clients_in_anthropic_format(gateway: Stack, http: httpx.Client) -> None:
    oversized = {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * (4 * 1024 * 1024)}]}
    response = http.post("/v1/messages", json=oversized, headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 413
    assert response.json() == {
        "type": "error",
        "error": {"type": "request_too_large", "message": "Request body too large: the limit is 4 MiB."},
    }
    # The same limit on an OpenAI path still answers OpenAI's error JSON.
    openai_style = http.post("/v1/chat/completions", json={**oversized, "messages": oversized["messages"]})
    assert openai_style.status_code == 413 and openai_style.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("alias", ["claude", "gemini"])
def test_malformed_translated_answer_is_502_for_openai_clients(gateway: Stack, alias: str) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        openai_client(gateway.base_url).chat.completions.create(
            model=alias, messages=[{"role": "user", "content": "garble please"}], extra_headers={"x-fake-malformed": "1"}
        )
    assert raised.value.status_code == 502 and raised.value.code == "bad_upstream_response"


def test_malformed_answer_is_502_for_anthropic_clients(gateway: Stack) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(
            model="gemini",
            max_tokens=50,
            messages=[{"role": "user", "content": "garble please"}],
            extra_headers={"x-fake-malformed": "1"},
        )
    assert raised.value.status_code == 502
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]


@pytest.mark.parametrize("alias", ["claude", "gemini"])
def test_a_translated_stream_cut_mid_way_ends_without_a_false_success(gateway: Stack, alias: str) -> None:
    """The provider resets the connection after two events: the client gets an error, never a clean finish."""
    finishes = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        stream = openai_client(gateway.base_url).chat.completions.create(
            model=alias,
            stream=True,
            messages=[{"role": "user", "content": "a long answer that will be cut"}],
            extra_headers={"x-fake-reset-after-chunks": "2"},
        )
        for chunk in stream:
            finishes += [c.finish_reason for c in chunk.choices if c.finish_reason]
    assert finishes == []


@pytest.mark.parametrize(("path", "alias", "anthropic_shape"), [
    ("/v1/chat/completions", "claude", False),
    ("/v1/messages", "smart", True),
])
def test_a_provider_reset_is_answered_in_the_clients_format(
    http: httpx.Client, path: str, alias: str, anthropic_shape: bool
) -> None:
    # The path Envoy sees was rewritten for the provider by then; the client's format still wins.
    # Buffered and reset before any byte: a stream reset after its 200 headers may already have
    # reached the client, which is the mid-stream case tested above, and racy here.
    body: dict[str, Any] = {"model": alias, "messages": [{"role": "user", "content": "cut me"}]}
    if anthropic_shape:
        body["max_tokens"] = 50
    response = http.post(path, json=body, headers={"x-fake-reset-after-chunks": "0"})
    assert response.status_code in (502, 503)
    payload = response.json()
    if anthropic_shape:
        assert payload["type"] == "error" and payload["error"]["type"] == "api_error"
    else:
        assert payload["error"]["code"] == "upstream_unavailable"
    assert "unavailable" in (payload["error"]["message"])
