"""Tracing: where spans go (from envoy.yaml), and what a request's spans say, at an in-process collector."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from extproc.config.catalog import Endpoint, ModelRoute
from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_connection_managers
from extproc.context import RequestContext
from extproc.cost.usage import Usage
from extproc.ops.launcher import envoy_binary
from extproc.telemetry import tracing
from tests.support.otlp_collector import Collector, ReceivedSpan, otlp_collector


def shipped() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def test_the_shipped_config_traces_nothing() -> None:
    assert tracing.settings_from_config(shipped(), environ={}).endpoint is None


def test_the_service_exports_where_envoys_tracer_exports() -> None:
    config = tracing.with_tracing(shipped(), "127.0.0.1:4317", sampling_percent=5)
    assert tracing.envoy_tracer_cluster(config) == tracing.COLLECTOR_CLUSTER
    assert tracing.settings_from_config(config, environ={}).endpoint == "http://127.0.0.1:4317"
    hcm = next(iter_connection_managers(config))
    assert hcm["tracing"]["random_sampling"] == {"value": 5}


def test_the_environment_overrides_the_config() -> None:
    config = tracing.with_tracing(shipped(), "127.0.0.1:4317")
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    assert tracing.settings_from_config(config, environ=environ).endpoint == "http://collector:4317"
    assert tracing.settings_from_config(shipped(), environ=environ).endpoint == "http://collector:4317"


def test_the_service_starts_traces_itself_only_without_a_tracer_in_envoy() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    assert tracing.settings_from_config(shipped(), environ=environ).trace_without_parent
    traced = tracing.with_tracing(shipped(), "127.0.0.1:4317")
    assert not tracing.settings_from_config(traced, environ=environ).trace_without_parent
    assert not tracing.settings_from_config(traced, environ={}).trace_without_parent


def test_a_collector_by_name_is_resolved_by_dns() -> None:
    config = tracing.with_tracing(shipped(), "otel-collector.observability:4317")
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == tracing.COLLECTOR_CLUSTER)
    assert cluster["type"] == "STRICT_DNS"


def test_a_collector_without_a_port_is_refused() -> None:
    with pytest.raises(ValueError, match="host:port"):
        tracing.with_tracing(shipped(), "collector")


def test_envoy_accepts_the_traced_config(tmp_path: Path) -> None:
    path = tmp_path / "traced.yaml"
    path.write_text(yaml.safe_dump(tracing.with_tracing(shipped(), "127.0.0.1:4317"), sort_keys=False))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "critical"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr or result.stdout


def test_without_tracing_a_stream_records_nothing() -> None:
    tracing.configure(tracing.TracingSettings())
    trace = tracing.start_stream([("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")])
    assert trace is tracing.NO_TRACE
    with trace.stage("routing", RequestContext()):
        pass
    trace.end_request(RequestContext())


@pytest.fixture()
def collector() -> Iterator[Collector]:
    with otlp_collector() as running:
        tracing.configure(tracing.TracingSettings(endpoint=f"http://{running.endpoint}"))
        try:
            yield running
        finally:
            tracing.shutdown()


def _answered_context() -> RequestContext:
    endpoint = Endpoint(
        cluster="gemini", address="127.0.0.1:9000", priority=0, model="gemini/gemini-2.5-flash", provider="gemini"
    )
    ctx = RequestContext(request_id="req-1", tenant="acme", requested_model="quick", stream=True, status=200)
    ctx.route = ModelRoute(name="gemini-2.5-flash", cluster="gemini", endpoints=(endpoint,))
    ctx.endpoint = endpoint
    ctx.body = {"model": "quick", "max_tokens": 64, "temperature": 0.2, "messages": [{"role": "user", "content": "hello"}]}
    ctx.usage = Usage(prompt_tokens=12, completion_tokens=7, model="gemini-2.5-flash-001")
    ctx.cost_usd = 0.0001
    return ctx


def _flushed(collector: Collector, trace_id: str, count: int) -> list[ReceivedSpan]:
    tracing.shutdown()  # flushes the batch
    return collector.wait_for(lambda _: len(collector.trace(trace_id)) >= count, timeout=10)


def test_a_request_continues_envoys_trace_with_a_span_per_stage(collector: Collector) -> None:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    trace = tracing.start_stream([("traceparent", f"00-{trace_id}-{parent}-01"), ("x-llm-gateway-filter", "router")])
    ctx = _answered_context()
    with trace.stage("routing", ctx):
        ctx.decisions.append("alias:quick->gemini-2.5-flash")
    with trace.stage("cache", ctx):
        ctx.decisions.append("cache:miss:exact")
    ctx.decisions.append("stream")
    trace.end_request(ctx)

    spans = {s.name: s for s in _flushed(collector, trace_id, 3)}
    request = spans["chat quick"]
    assert request.parent_span_id == parent and request.service == tracing.SERVICE_NAME
    assert request.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "quick",
        "gen_ai.response.model": "gemini-2.5-flash-001",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "http.response.status_code": 200,
        "llm_gateway.request_id": "req-1",
        "llm_gateway.tenant": "acme",
        "llm_gateway.route": "gemini-2.5-flash",
        "llm_gateway.stream": True,
        "llm_gateway.cache": "off",
        "llm_gateway.cost_usd": 0.0001,
        "llm_gateway.decisions": ["alias:quick->gemini-2.5-flash", "cache:miss:exact", "stream"],
    }
    # Each decision is an event on the span that made it, once.
    assert spans["stage routing"].events == [("alias", {"llm_gateway.decision": "alias:quick->gemini-2.5-flash"})]
    assert spans["stage cache"].events == [("cache", {"llm_gateway.decision": "cache:miss:exact"})]
    assert request.events == [("stream", {"llm_gateway.decision": "stream"})]
    assert spans["stage routing"].parent_span_id == request.span_id


def test_a_refusal_is_the_clients_error_and_a_5xx_the_servers(collector: Collector) -> None:
    ids = []
    for status, reason in ((429, "rate_limit_exceeded"), (500, "internal_error")):
        trace_id = secrets.token_hex(16)
        ids.append(trace_id)
        trace = tracing.start_stream([("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01")])
        ctx = RequestContext(tenant="acme", requested_model="fast")
        ctx.decisions.append(f"rejected:{reason}")
        trace.replied(status, reason)
        trace.end_request(ctx)
    tracing.shutdown()
    for trace_id in ids:
        collector.wait_for(lambda _, trace_id=trace_id: bool(collector.trace(trace_id)))
    refused, failed = (collector.trace(trace_id)[0] for trace_id in ids)
    assert refused.attributes["http.response.status_code"] == 429
    assert refused.attributes["error.type"] == "rate_limit_exceeded"
    assert refused.status_code == 0  # unset: a client's mistake
    assert failed.status_code == 2  # error


def test_an_unsampled_parent_records_nothing(collector: Collector) -> None:
    trace_id = secrets.token_hex(16)
    trace = tracing.start_stream([("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-00")])
    trace.end_request(_answered_context())
    sampled = secrets.token_hex(16)
    tracing.start_stream([("traceparent", f"00-{sampled}-{secrets.token_hex(8)}-01")]).end_request(_answered_context())
    _flushed(collector, sampled, 1)
    assert collector.trace(trace_id) == []


def test_an_upstream_attempt_is_a_span_of_its_own(collector: Collector) -> None:
    trace_id = secrets.token_hex(16)
    trace = tracing.start_stream([("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01")])
    trace.end_attempt("anthropic", "claude-haiku-4-5", 2, 200)
    (span,) = _flushed(collector, trace_id, 1)
    assert span.name == "attempt anthropic/claude-haiku-4-5"
    assert span.attributes == {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-haiku-4-5",
        "llm_gateway.attempt": 2,
        "http.response.status_code": 200,
    }


def test_an_exporter_that_cannot_load_leaves_the_gateway_serving_untraced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What a venv where xds-protos overwrote opentelemetry-proto's modules does on import.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    assert tracing.configure(tracing.TracingSettings(endpoint="http://127.0.0.1:4317")) is False
    assert not tracing.enabled()
    assert tracing.start_stream([]) is tracing.NO_TRACE
    assert "reinstalls opentelemetry-proto" in caplog.text


def test_a_sampling_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="percentage"):
        tracing.with_tracing(shipped(), "127.0.0.1:4317", sampling_percent=150)


def test_a_stream_envoy_sent_no_context_for_is_not_traced(collector: Collector) -> None:
    # What Envoy sends when it traced nothing (a client's malformed traceparent): no traceparent at all.
    tracing.start_stream([("x-llm-gateway-filter", "router")]).end_request(_answered_context())
    sampled = secrets.token_hex(16)
    tracing.start_stream([("traceparent", f"00-{sampled}-{secrets.token_hex(8)}-01")]).end_request(_answered_context())
    _flushed(collector, sampled, 1)
    assert [s.trace_id for s in collector.spans] == [sampled]


def test_without_a_tracer_in_envoy_each_stream_starts_its_own_trace() -> None:
    with otlp_collector() as running:
        tracing.configure(tracing.TracingSettings(endpoint=f"http://{running.endpoint}", trace_without_parent=True))
        try:
            tracing.start_stream([]).end_request(_answered_context())
        finally:
            tracing.shutdown()
        (span,) = running.wait_for(lambda got: len(got) >= 1, timeout=10)
        assert span.name == "chat quick" and span.parent_span_id == ""


def test_a_huge_model_name_is_cut_in_the_span_name_and_attributes(collector: Collector) -> None:
    """A client's 3.9 MB model name must not become a 3.9 MB span."""
    trace_id = secrets.token_hex(16)
    trace = tracing.start_stream([("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01")])
    ctx = RequestContext(tenant="acme", requested_model="m" * 3_900_000)
    trace.replied(404, "model_not_found")
    trace.end_request(ctx)
    (span,) = _flushed(collector, trace_id, 1)
    assert len(span.name) < 200 and span.name.startswith("chat mmmm")
    assert len(span.attributes["gen_ai.request.model"]) < 200
