"""Tracing end to end: Envoy's spans and the service's spans in one trace, at an in-process OTLP collector.

The stack runs with `otlp_endpoint` (what `llm-gateway up --otlp-endpoint` does):
Envoy's OpenTelemetry tracer and the service processes both export to the
collector this test process serves.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from extproc.ops.launcher import Stack
from tests.e2e.conftest import access_log_entry, shipped_config, start_stack
from tests.support.otlp_collector import Collector, ReceivedSpan, otlp_collector
from tests.support.sdk_clients import TEST_API_KEY, openai_client

ENVOY, SERVICE = "llm-gateway-envoy", "llm-gateway-extproc"
PROMPT = "Tell me about the secret lighthouse of Ardnamurchan"


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with otlp_collector() as running:
        yield running


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Stack]:
    config = shipped_config()
    # Envoy batches spans for 5 s by default, the service's SDK too: the test wants them sooner.
    config["layered_runtime"]["layers"][0]["static_layer"] = {
        "tracing.opentelemetry.flush_interval_ms": 200,
        "tracing.opentelemetry.min_flush_spans": 1,
    }
    stack = start_stack(
        tmp_path_factory.mktemp("traced"),
        config,
        workers=2,
        otlp_endpoint=collector.endpoint,
        extra_env={"OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    try:
        yield stack
    finally:
        stack.stop()


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _service_request_span(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
    return next((s for s in spans if s.service == SERVICE and not s.name.startswith(("stage ", "attempt "))), None)


def _complete(collector: Collector, trace_id: str, stages: int = 1) -> list[ReceivedSpan]:
    """The trace once the service's request span, a stage span and Envoy's spans have all arrived."""

    def done(_: list[ReceivedSpan]) -> bool:
        spans = collector.trace(trace_id)
        return (
            _service_request_span(spans) is not None
            and sum(s.name.startswith("stage ") for s in spans) >= stages
            and any(s.service == ENVOY and s.parent_span_id and not s.name.startswith("async") for s in spans)
        )

    collector.wait_for(done)
    return collector.trace(trace_id)


def test_one_trace_holds_the_clients_span_envoys_spans_and_the_services(traced: Stack, collector: Collector) -> None:
    trace_id, client_span, traceparent = _traceparent()
    raw = openai_client(traced.base_url).chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": PROMPT}], extra_headers={"traceparent": traceparent}
    )
    usage = raw.parse().usage
    assert usage is not None
    spans = _complete(collector, trace_id, stages=3)
    by_id = {s.span_id: s for s in spans}

    # Envoy continued the client's trace: its request span is the client span's child.
    envoy_root = next(s for s in spans if s.service == ENVOY and s.parent_span_id == client_span)
    # The service's span hangs below Envoy's (through the ext_proc call's span), never a root of its own.
    request = _service_request_span(spans)
    assert request is not None
    assert request.parent_span_id in by_id and by_id[request.parent_span_id].service == ENVOY
    chain, node = [], request
    while node.parent_span_id in by_id:
        node = by_id[node.parent_span_id]
        chain.append(node)
    assert envoy_root in chain

    # GenAI attributes and the gateway's decisions.
    assert request.name == "chat fast"
    attrs = request.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "fast"
    assert attrs["gen_ai.response.model"] == raw.headers["x-gateway-served-model"]
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert attrs["http.response.status_code"] == 200
    assert attrs["llm_gateway.tenant"] == "test"
    assert attrs["llm_gateway.request_id"] == raw.headers["x-gateway-request-id"]
    assert attrs["llm_gateway.cost_usd"] == pytest.approx(float(raw.headers["x-gateway-cost-usd"]), rel=1e-6)

    # Each stage is a child span, with the decisions it made as events.
    stages = {s.name: s for s in spans if s.name.startswith("stage ") and s.parent_span_id == request.span_id}
    assert {"stage auth", "stage routing", "stage accounting"} <= stages.keys()
    assert ("alias", {"llm_gateway.decision": "alias:fast->gpt-4o-mini"}) in stages["stage routing"].events
    assert all(request.start_ns <= s.start_ns and s.end_ns <= request.end_ns for s in stages.values())

    # The access-log line names the same trace.
    assert access_log_entry(traced, raw.headers["x-gateway-request-id"])["trace_id"] == trace_id


def test_the_service_joins_the_trace_envoy_starts_when_the_client_sends_none(traced: Stack, collector: Collector) -> None:
    raw = openai_client(traced.base_url).chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "No trace context from me"}]
    )
    request_id = raw.headers["x-gateway-request-id"]

    def has_request(spans: list[ReceivedSpan]) -> bool:
        return any(s.attributes.get("llm_gateway.request_id") == request_id for s in spans)

    spans = collector.wait_for(has_request)
    request = next(s for s in spans if s.attributes.get("llm_gateway.request_id") == request_id)
    trace = _complete(collector, request.trace_id)
    parent = next((s for s in trace if s.span_id == request.parent_span_id), None)
    assert parent is not None and parent.service == ENVOY, "the service's span is not below Envoy's"


def test_spans_hold_no_prompt_completion_or_key(traced: Stack, collector: Collector) -> None:
    trace_id, _, traceparent = _traceparent()
    answer = openai_client(traced.base_url).chat.completions.create(
        model="fast", messages=[{"role": "user", "content": PROMPT}], extra_headers={"traceparent": traceparent}
    )
    completion = answer.choices[0].message.content or ""
    assert completion
    spans = _complete(collector, trace_id, stages=3)
    text = repr([(s.name, s.attributes, s.events) for s in spans])
    for secret in (PROMPT, completion, TEST_API_KEY, TEST_API_KEY[-12:]):
        assert secret not in text


def test_a_refused_request_is_traced_with_its_status_and_reason(traced: Stack, collector: Collector) -> None:
    trace_id, _, traceparent = _traceparent()
    response = httpx.post(
        f"http://127.0.0.1:{traced.port}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-gw-wrong", "traceparent": traceparent},
        json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert response.status_code == 401
    spans = _complete(collector, trace_id)
    request = _service_request_span(spans)
    assert request is not None
    assert request.attributes["http.response.status_code"] == 401
    assert request.attributes["error.type"] == "invalid_api_key"
    assert any(name == "rejected" for name, _ in request.events)
    assert request.status_code != 2, "a client's mistake is not a server error"  # 2 = STATUS_CODE_ERROR


def test_each_upstream_attempt_of_a_fallback_is_a_span(traced: Stack, collector: Collector) -> None:
    trace_id, _, traceparent = _traceparent()
    response = httpx.post(
        f"http://127.0.0.1:{traced.port}/v1/chat/completions",
        headers={
            "Authorization": f"Bearer {TEST_API_KEY}",
            "traceparent": traceparent,
            "x-fake-status": "503",
            "x-fake-fault-models": "llama-3.1-8b",
        },
        json={"model": "reliable", "messages": [{"role": "user", "content": "fall back, please"}]},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-gateway-attempt"] == "2"

    def both_attempts(_: list[ReceivedSpan]) -> bool:
        return sum(s.name.startswith("attempt ") for s in collector.trace(trace_id)) >= 2

    collector.wait_for(both_attempts)
    attempts = sorted(
        (s for s in collector.trace(trace_id) if s.name.startswith("attempt ")), key=lambda s: s.attributes["llm_gateway.attempt"]
    )
    assert [(a.name, a.attributes["http.response.status_code"]) for a in attempts] == [
        ("attempt hosted_vllm/llama-3.1-8b", 503),
        ("attempt anthropic/claude-haiku-4-5", 200),
    ]
    spans = _complete(collector, trace_id)
    by_id = {s.span_id: s for s in spans}
    # Each attempt hangs below Envoy's span of that attempt's ext_proc call.
    assert all(by_id[a.parent_span_id].service == ENVOY for a in attempts)
    request = _service_request_span(spans)
    assert request is not None and request.attributes["gen_ai.response.model"] == "claude-haiku-4-5"
    # The attempt log came after the stages: it is an event of the request's span.
    assert ("attempts", {"llm_gateway.decision": "attempts:2"}) in request.events


@pytest.mark.parametrize(
    "traceparent",
    ["garbage", f"00-{'0' * 32}-{'0' * 16}-01", "00-zz-zz-zz", "ff-" + "a" * 200],
    ids=["garbage", "all-zero-ids", "not-hex", "oversized"],
)
def test_a_malformed_traceparent_is_served_and_traced_by_no_one(traced: Stack, collector: Collector, traceparent: str) -> None:
    """Envoy 1.40 traces nothing for such a request and sends the service no context; the service
    then records nothing either (its sampler follows Envoy's), so a client cannot force traces."""
    response = httpx.post(
        f"http://127.0.0.1:{traced.port}/v1/chat/completions",
        headers={"Authorization": f"Bearer {TEST_API_KEY}", "traceparent": traceparent},
        json={"model": "fast", "messages": [{"role": "user", "content": "trace me anyway"}]},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]
    # A traced request after it, through both service processes; once its spans are in, the first
    # request's would have been too (both export every 100 ms).
    for _ in range(2):
        trace_id, _, good = _traceparent()
        openai_client(traced.base_url).chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "and me"}], extra_headers={"traceparent": good}
        )
        _complete(collector, trace_id)
    time.sleep(0.5)
    request_id = response.headers["x-gateway-request-id"]
    assert not [s for s in collector.spans if s.attributes.get("llm_gateway.request_id") == request_id]
