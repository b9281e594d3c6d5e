"""A stream that fails after it started: the client gets a well-formed error event in its own format,
never a clean-looking end, and the access log line says why.

Envoy falls back only before the answer's first byte (see test_fallbacks.py); after that the
failure is the client's to see, as an error event it can parse.
"""

from __future__ import annotations

import uuid

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from extproc.ops.launcher import Stack
from tests.e2e.conftest import access_log_entry, fake_requests, wait_until
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, anthropic_client, openai_client

MESSAGES = [{"role": "user", "content": "a long answer that will break half way through"}]
FAIL_AFTER_3 = {"x-fake-error-after-chunks": "3"}


@pytest.mark.parametrize(("alias", "provider_message"), [("claude", "Overloaded"), ("fast", "had an error")])
def test_an_openai_client_gets_the_providers_error_event(gateway: Stack, alias: str, provider_message: str) -> None:
    """Claude's `event: error` is translated; an OpenAI provider's own error event passes through."""
    with openai_client(gateway.base_url).chat.completions.with_streaming_response.create(
        model=alias, stream=True, messages=MESSAGES, extra_headers=FAIL_AFTER_3
    ) as response:
        request_id = response.headers["x-gateway-request-id"]
        finishes = []
        with pytest.raises(openai.APIError) as raised:
            for chunk in response.parse():
                finishes += [c.finish_reason for c in chunk.choices if c.finish_reason]
    assert provider_message in raised.value.message
    assert finishes == []  # never a clean-looking end
    entry = access_log_entry(gateway, request_id)
    assert entry["status"] == 200 and "stream_failed" in entry["decisions"]
    assert provider_message in entry["error"]


def test_an_anthropic_client_gets_an_anthropic_error_event(gateway: Stack) -> None:
    """An OpenAI provider's error event, as the `event: error` the Anthropic SDK raises on."""
    client = anthropic_client(gateway.base_url.removesuffix("/v1"))
    stop_reasons = []
    with pytest.raises(anthropic.APIError) as raised, client.messages.stream(
        model="smart", max_tokens=200, messages=MESSAGES, extra_headers=FAIL_AFTER_3  # type: ignore[arg-type]
    ) as stream:
        for event in stream:
            if event.type == "message_delta":
                stop_reasons.append(event.delta.stop_reason)
    assert "failed mid-stream" in str(raised.value) and "had an error" in str(raised.value)
    assert stop_reasons == []


def test_a_reset_mid_stream_is_logged_with_its_reason(gateway: Stack) -> None:
    """Envoy cannot write an error event into a connection the provider reset; it cuts the client's
    stream (the SDK raises) and its access log line names the reset."""
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30, headers=AUTH) as http, http.stream(
        "POST", "/v1/chat/completions", json={"model": "fast", "stream": True, "messages": MESSAGES},
        headers={"x-fake-reset-after-chunks": "2", "x-fake-chunk-delay-ms": "20"},
    ) as response:  # fmt: skip
        request_id = response.headers["x-gateway-request-id"]
        with pytest.raises(httpx.HTTPError):
            for _ in response.iter_bytes():
                pass
    entry = access_log_entry(gateway, request_id)
    assert "upstream_reset_after_response_started" in entry["response_code_details"]
    assert "UR" in entry["response_flags"] or "UPE" in entry["response_flags"] or "UC" in entry["response_flags"]


@pytest.mark.parametrize("alias", ["fast", "claude"])
def test_a_broken_event_mid_stream_becomes_an_error_event(gateway: Stack, alias: str) -> None:
    """Passed through (OpenAI to OpenAI) or translated, a garbled event never reaches the SDK as garbage."""
    finishes = []
    with pytest.raises(openai.APIError) as raised:
        stream = openai_client(gateway.base_url).chat.completions.create(
            model=alias, stream=True, messages=MESSAGES, extra_headers={"x-fake-malformed": "1"}
        )
        for chunk in stream:
            finishes += [c.finish_reason for c in chunk.choices if c.finish_reason]
    assert "mid-stream" in raised.value.message
    assert finishes == []


def _metric(gateway: Stack, name: str, **labels: str) -> float:
    """One series of the gateway's /metrics (summed over its service processes), 0 when absent."""
    text = httpx.get(f"http://127.0.0.1:{gateway.port}/metrics", headers=ADMIN_AUTH, timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_a_client_that_leaves_mid_stream_is_still_counted_and_charged(gateway: Stack) -> None:
    streams = dict(route="gpt-4o-mini", status="200", stream="true")
    estimated = dict(model="gpt-4o-mini", provider="openai")
    before = (_metric(gateway, "llm_gateway_requests_total", **streams),
              _metric(gateway, "llm_gateway_usage_estimated_total", **estimated),
              _metric(gateway, "llm_gateway_cost_usd_total", tenant="test", **estimated))  # fmt: skip
    body = {"model": "fast", "stream": True, "max_tokens": 200, "messages": MESSAGES}
    slow = {**AUTH, "x-fake-chunk-delay-ms": "300"}
    with httpx.Client(timeout=30) as client, client.stream(
        "POST", f"http://127.0.0.1:{gateway.port}/v1/chat/completions", json=body, headers=slow
    ) as response:
        assert response.status_code == 200
        next(response.iter_raw())  # the first piece, then hang up
    wait_until(lambda: _metric(gateway, "llm_gateway_requests_total", **streams) == before[0] + 1, timeout=15)
    # No usage chunk came: what was streamed is counted and charged, flagged as estimated.
    assert _metric(gateway, "llm_gateway_usage_estimated_total", **estimated) == before[1] + 1
    assert _metric(gateway, "llm_gateway_cost_usd_total", tenant="test", **estimated) > before[2]


def test_a_client_that_leaves_before_any_answer_is_counted_as_499(gateway: Stack) -> None:
    before = _metric(gateway, "llm_gateway_requests_total", route="gpt-4o-mini", status="499", stream="false")
    body = {"model": "fast", "messages": [{"role": "user", "content": "never mind"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", json=body,
                   headers={**AUTH, "x-fake-latency-ms": "3000"}, timeout=httpx.Timeout(10, read=0.5))  # fmt: skip
    wait_until(
        lambda: _metric(gateway, "llm_gateway_requests_total", route="gpt-4o-mini", status="499", stream="false") == before + 1,
        timeout=15,
    )


# --- a reset on a per-attempt route (smart: gpt-4o, whose cluster runs the upstream filter) ------

GPT_4O = dict(tenant="test", model="gpt-4o", provider="openai")


def _prompt_cost(messages: list[dict[str, str]]) -> float:
    """What LiteLLM's cost map charges for this prompt on gpt-4o, no completion."""
    import litellm  # slow; only these tests need it

    tokens = litellm.token_counter(model="gpt-4o", messages=messages)
    prompt, _ = litellm.cost_per_token(model="gpt-4o", prompt_tokens=tokens, completion_tokens=0)
    return float(prompt)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_reset_before_anything_reached_the_client_is_retried_and_every_attempt_charged(gateway: Stack, path: str) -> None:
    """The provider resets each attempt before any byte: Envoy retries (nothing reached the client),
    the client gets one error in its own format, and the tenant pays each attempt's prompt, as the
    provider bills it."""
    marker = f"reset-{uuid.uuid4()}"
    messages = [{"role": "user", "content": f"answer me {marker}"}]
    body: dict[str, object] = {"model": "smart", "max_tokens": 50, "messages": messages}
    before = _metric(gateway, "llm_gateway_cost_usd_total", **GPT_4O)
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=60, headers=AUTH) as http:
        answer = http.post(path, json=body, headers={"x-fake-reset-after-chunks": "0"})
    attempts = [r for r in fake_requests(gateway) if marker in str(r.get("body"))]
    assert len(attempts) == 3  # the first try and two retries (num_retries: 2)
    assert answer.status_code in (502, 503)
    error = answer.json()  # never an empty body
    if path == "/v1/messages":
        assert error["type"] == "error" and error["error"]["type"] == "api_error"
    else:
        assert error["error"]["code"] == "upstream_unavailable"
    assert answer.headers["x-gateway-attempts"].count("status=none") == 3
    charged = float(answer.headers["x-gateway-cost-usd"])
    assert charged == pytest.approx(3 * _prompt_cost(messages), rel=0.05)
    wait_until(lambda: _metric(gateway, "llm_gateway_cost_usd_total", **GPT_4O) >= before + charged * 0.999, timeout=15)
    entry = access_log_entry(gateway, answer.headers["x-gateway-request-id"])
    assert "unanswered_attempts:3" in entry["decisions"] and float(entry["cost_usd"]) == pytest.approx(charged)


def test_a_reset_after_the_stream_reached_the_client_is_not_retried_and_charged_once(gateway: Stack) -> None:
    marker = f"cut-{uuid.uuid4()}"
    messages = [{"role": "user", "content": f"a long answer please {marker}"}]
    body = {"model": "smart", "stream": True, "messages": messages}
    before = _metric(gateway, "llm_gateway_cost_usd_total", **GPT_4O)
    received = b""
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=60, headers=AUTH) as http, http.stream(
        "POST", "/v1/chat/completions", json=body,
        headers={"x-fake-reset-after-chunks": "3", "x-fake-chunk-delay-ms": "50"},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        with pytest.raises(httpx.HTTPError):
            for piece in response.iter_bytes():
                received += piece
    assert b"data: " in received  # the stream had begun for the client: no retry could follow
    assert len([r for r in fake_requests(gateway) if marker in str(r.get("body"))]) == 1
    # The prompt and what was streamed, estimated (the provider's usage chunk never came).
    wait_until(lambda: _metric(gateway, "llm_gateway_cost_usd_total", **GPT_4O) >= before + _prompt_cost(messages), timeout=15)
