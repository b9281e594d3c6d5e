"""Metrics: what an operator scraping /metrics sees, in one process and summed over several."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from extproc.telemetry import metrics, metrics_http

ROOT = Path(__file__).resolve().parents[3]

# One answer as the processor would report it; tests override what they look at.
ANSWER: dict[str, Any] = dict(
    route="smart", model="gpt-4o-mini", provider="openai", tenant="team-a", status=200, stream=False,
    prompt_tokens=1200, completion_tokens=300, cached_tokens=1000, cost_usd=0.25, usage_estimated=False,
    duration_s=0.5, response_model="gpt-4o-mini-2024-07-18",
)  # fmt: skip

# Every family and its labels (histograms add `le` to their buckets): nothing per request.
FAMILIES = {
    "llm_gateway_requests": {"route", "status", "stream"},
    "llm_gateway_tokens": {"model", "provider", "tenant", "type"},
    "llm_gateway_cost_usd": {"model", "provider", "tenant"},
    "llm_gateway_usage_estimated": {"model", "provider"},
    "llm_gateway_rejections": {"reason", "status"},
    "llm_gateway_routing_requests": {"policy", "reason", "model", "task", "complexity"},
    "llm_gateway_routing_cost_usd": {"policy", "reason", "model"},
    "llm_gateway_redactions": {"route", "direction", "entity", "action"},
    "llm_gateway_cache_requests": {"route", "tenant", "outcome"},
    "llm_gateway_cache_saved_tokens": {"route", "tenant"},
    "llm_gateway_cache_saved_usd": {"route", "tenant"},
    "llm_gateway_cache_explorations": {"route", "tenant", "outcome"},
    "llm_gateway_cache_exploration_usd": {"route", "tenant"},
    "llm_gateway_cache_expected_errors": {"route", "tenant"},
    "gen_ai_client_token_usage": {
        "gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model",
        "gen_ai_token_type",
    },
    "gen_ai_client_operation_duration_seconds": {
        "gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model", "error_type",
    },
    "llm_gateway_fallbacks": {"route", "provider"},
    "llm_gateway_config_reloads": {"result"},
    "llm_gateway_config_info": {"sha256"},
    "llm_gateway_config_loaded_timestamp_seconds": set(),
    "gen_ai_server_time_to_first_token_seconds": {
        "gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model",
    },
    "gen_ai_server_time_per_output_token_seconds": {
        "gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model",
    },
    "llm_gateway_upstream_latency_seconds": {"model", "provider"},
    "llm_gateway_overhead_seconds": {"route"},
    "llm_gateway_prompt_requests": {"prompt", "version"},
    "llm_gateway_prompt_errors": {"code"},
}  # fmt: skip

# A service process: configure, record `count` answers for `tenant`, one rejection, exit.
CHILD = """
import sys
from extproc.telemetry import metrics
directory, tenant, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
metrics.configure(directory)
for _ in range(count):
    metrics.record_answer(route="smart", model="gpt-4o-mini", provider="openai", tenant=tenant, status=200,
                          stream=True, prompt_tokens=10, completion_tokens=5, cached_tokens=2, cost_usd=0.5,
                          usage_estimated=False, duration_s=0.1)
metrics.record_rejection(reason="max_cost_exceeded", status=402)
"""


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    """Each test starts from empty single-process metrics and leaves the environment as it found it."""
    saved = os.environ.get(metrics.MULTIPROC_DIR_ENV)
    metrics.configure(None)
    yield
    metrics.configure(None)
    if saved is not None:
        os.environ[metrics.MULTIPROC_DIR_ENV] = saved


def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of render(), parsed as Prometheus would: (name, labels) -> value."""
    body, _ = metrics.render()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def gen_ai(provider: str = "openai", model: str = "gpt-4o-mini", response: str = "gpt-4o-mini-2024-07-18",
           **extra: str) -> dict[str, str]:  # fmt: skip
    return {"gen_ai_operation_name": "chat", "gen_ai_provider_name": provider, "gen_ai_request_model": model,
            "gen_ai_response_model": response, **extra}  # fmt: skip


def test_answers_add_up_per_model_provider_and_tenant() -> None:
    metrics.record_answer(**ANSWER)
    metrics.record_answer(**ANSWER)
    metrics.record_answer(**{**ANSWER, "tenant": "team-b", "stream": True, "cost_usd": 0.5})
    samples = scrape()
    assert value(samples, "llm_gateway_requests_total", route="smart", status="200", stream="false") == 2
    assert value(samples, "llm_gateway_requests_total", route="smart", status="200", stream="true") == 1
    tokens = dict(model="gpt-4o-mini", provider="openai")
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-a", type="prompt") == 2400
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-a", type="completion") == 600
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-a", type="cached") == 2000
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-b", type="prompt") == 1200
    assert value(samples, "llm_gateway_cost_usd_total", **tokens, tenant="team-a") == pytest.approx(0.5)
    assert value(samples, "llm_gateway_cost_usd_total", **tokens, tenant="team-b") == pytest.approx(0.5)
    assert value(samples, "llm_gateway_usage_estimated_total", **tokens) == 0


def test_semantic_convention_histograms() -> None:
    metrics.record_answer(**ANSWER)
    metrics.record_answer(**{**ANSWER, "prompt_tokens": 10, "duration_s": 30.0})
    samples = scrape()
    assert value(samples, "gen_ai_client_token_usage_count", **gen_ai(gen_ai_token_type="input")) == 2
    assert value(samples, "gen_ai_client_token_usage_sum", **gen_ai(gen_ai_token_type="input")) == 1210
    assert value(samples, "gen_ai_client_token_usage_sum", **gen_ai(gen_ai_token_type="output")) == 600
    assert value(samples, "gen_ai_client_token_usage_bucket", **gen_ai(gen_ai_token_type="input", le="16.0")) == 1
    assert value(samples, "gen_ai_client_token_usage_bucket", **gen_ai(gen_ai_token_type="input", le="4096.0")) == 2
    duration = gen_ai(error_type="")
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **duration) == 2
    assert value(samples, "gen_ai_client_operation_duration_seconds_sum", **duration) == pytest.approx(30.5)
    assert value(samples, "gen_ai_client_operation_duration_seconds_bucket", **duration, le="0.64") == 1


def test_provider_name_follows_the_semantic_conventions_and_errors_have_a_type() -> None:
    metrics.record_answer(**{**ANSWER, "provider": "gemini", "model": "gemini-2.5-flash", "response_model": None,
                             "status": 502})  # fmt: skip
    samples = scrape()
    assert value(samples, "llm_gateway_tokens_total", model="gemini-2.5-flash", provider="gemini", tenant="team-a",
                 type="prompt") == 1200  # fmt: skip
    labels = gen_ai(provider="gcp.gemini", model="gemini-2.5-flash", response="unknown", error_type="502")
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **labels) == 1
    assert value(samples, "llm_gateway_requests_total", route="smart", status="502", stream="false") == 1


def test_none_and_empty_values_become_unknown_and_add_nothing() -> None:
    metrics.record_answer(
        route=None, model=None, provider=None, tenant="", status=None, stream=True, prompt_tokens=None,
        completion_tokens=None, cached_tokens=None, cost_usd=None, usage_estimated=False, duration_s=None,
    )  # fmt: skip
    samples = scrape()
    assert value(samples, "llm_gateway_requests_total", route="unknown", status="unknown", stream="true") == 1
    unknown = dict(model="unknown", provider="unknown", tenant="unknown")
    for kind in ("prompt", "completion", "cached"):
        assert value(samples, "llm_gateway_tokens_total", **unknown, type=kind) == 0
    assert value(samples, "llm_gateway_cost_usd_total", **unknown) == 0
    labels = gen_ai(provider="unknown", model="unknown", response="unknown")
    assert value(samples, "gen_ai_client_token_usage_count", **labels, gen_ai_token_type="input") == 0
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **labels, error_type="unknown") == 0


def test_zero_and_negative_amounts_are_not_errors() -> None:
    metrics.record_answer(**{**ANSWER, "prompt_tokens": 0, "completion_tokens": -1, "cached_tokens": -5,
                             "cost_usd": -0.1, "duration_s": -1.0})  # fmt: skip
    samples = scrape()
    tokens = dict(model="gpt-4o-mini", provider="openai", tenant="team-a")
    assert value(samples, "llm_gateway_tokens_total", **tokens, type="prompt") == 0
    assert value(samples, "llm_gateway_tokens_total", **tokens, type="completion") == 0
    assert value(samples, "llm_gateway_cost_usd_total", **tokens) == 0
    assert value(samples, "gen_ai_client_token_usage_count", **gen_ai(gen_ai_token_type="input")) == 1
    assert value(samples, "gen_ai_client_token_usage_count", **gen_ai(gen_ai_token_type="output")) == 0
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **gen_ai(error_type="")) == 0


def test_estimated_usage_is_counted_and_flagged_but_not_reported_as_the_providers() -> None:
    metrics.record_answer(**{**ANSWER, "usage_estimated": True})
    samples = scrape()
    assert value(samples, "llm_gateway_tokens_total", model="gpt-4o-mini", provider="openai", tenant="team-a",
                 type="prompt") == 1200  # fmt: skip
    assert value(samples, "llm_gateway_usage_estimated_total", model="gpt-4o-mini", provider="openai") == 1
    assert value(samples, "gen_ai_client_token_usage_count", **gen_ai(gen_ai_token_type="input")) == 0
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **gen_ai(error_type="")) == 1


def test_rejections_by_reason_and_status() -> None:
    metrics.record_rejection(reason="unknown_model", status=404)
    metrics.record_rejection(reason="unknown_model", status=404)
    metrics.record_rejection(reason="", status=400)
    samples = scrape()
    assert value(samples, "llm_gateway_rejections_total", reason="unknown_model", status="404") == 2
    assert value(samples, "llm_gateway_rejections_total", reason="unknown", status="400") == 1


def test_redactions_by_route_direction_entity_and_action() -> None:
    metrics.record_redactions(route="fast", direction="request", action="mask", counts={"EMAIL_ADDRESS": 2, "SECRET": 1})
    metrics.record_redactions(route="fast", direction="request", action="mask", counts={"EMAIL_ADDRESS": 1})
    metrics.record_redactions(route="fast", direction="response", action="block", counts={"CREDIT_CARD": 1})
    samples = scrape()
    name = "llm_gateway_redactions_total"
    assert value(samples, name, route="fast", direction="request", entity="EMAIL_ADDRESS", action="mask") == 3
    assert value(samples, name, route="fast", direction="request", entity="SECRET", action="mask") == 1
    assert value(samples, name, route="fast", direction="response", entity="CREDIT_CARD", action="block") == 1


def test_cache_outcomes_and_savings() -> None:
    metrics.record_cache(route="fast", tenant="acme", outcome="hit")
    metrics.record_cache(route="fast", tenant="acme", outcome="miss")
    metrics.record_cache_hit(route="fast", tenant="acme", tokens=120, usd=0.25)
    metrics.record_cache_hit(route="fast", tenant="acme", tokens=30, usd=0.05)
    samples = scrape()
    assert value(samples, "llm_gateway_cache_requests_total", route="fast", tenant="acme", outcome="hit") == 1
    assert value(samples, "llm_gateway_cache_saved_tokens_total", route="fast", tenant="acme") == 150
    assert value(samples, "llm_gateway_cache_saved_usd_total", route="fast", tenant="acme") == pytest.approx(0.30)


def test_cache_explorations_their_cost_and_the_expected_errors() -> None:
    metrics.record_cache_exploration(route="fast", tenant="acme", outcome="right", usd=0.002)
    metrics.record_cache_exploration(route="fast", tenant="acme", outcome="wrong", usd=None)
    metrics.record_cache_risk(route="fast", tenant="acme", risk=0.05)
    metrics.record_cache_risk(route="fast", tenant="acme", risk=0.1)
    samples = scrape()
    assert value(samples, "llm_gateway_cache_explorations_total", route="fast", tenant="acme", outcome="right") == 1
    assert value(samples, "llm_gateway_cache_explorations_total", route="fast", tenant="acme", outcome="wrong") == 1
    assert value(samples, "llm_gateway_cache_exploration_usd_total", route="fast", tenant="acme") == pytest.approx(0.002)
    assert value(samples, "llm_gateway_cache_expected_errors_total", route="fast", tenant="acme") == pytest.approx(0.15)


def test_routing_decisions_count_requests_and_cost_per_reason() -> None:
    metrics.record_routing(policy="auto", reason="classifier", model="gpt-4o", task="math", complexity="complex", cost_usd=0.02)
    metrics.record_routing(policy="auto", reason="classifier", model="gpt-4o", task="math", complexity="complex", cost_usd=0.01)
    metrics.record_routing(policy="auto", reason="canary/control", model="gpt-4o-mini", task=None, complexity=None, cost_usd=None)
    samples = scrape()
    labels = {"policy": "auto", "reason": "classifier", "model": "gpt-4o"}
    assert value(samples, "llm_gateway_routing_requests_total", **labels, task="math", complexity="complex") == 2
    assert value(samples, "llm_gateway_routing_cost_usd_total", **labels) == pytest.approx(0.03)
    split = {"policy": "auto", "reason": "canary/control", "model": "gpt-4o-mini", "task": "", "complexity": ""}
    assert value(samples, "llm_gateway_routing_requests_total", **split) == 1


def test_families_and_labels_are_exactly_the_documented_ones() -> None:
    metrics.record_answer(**ANSWER)
    metrics.record_routing(policy="auto", reason="tools", model="gpt-4o", task=None, complexity=None, cost_usd=0.1)
    metrics.record_rejection(reason="bad_request", status=400)
    metrics.record_redactions(route="fast", direction="request", action="mask", counts={"US_SSN": 1})
    metrics.record_cache(route="fast", tenant="t", outcome="hit")
    metrics.record_cache_hit(route="fast", tenant="t", tokens=10, usd=0.5)
    metrics.record_cache_exploration(route="fast", tenant="t", outcome="right", usd=0.1)
    metrics.record_cache_risk(route="fast", tenant="t", risk=0.1)
    metrics.record_overhead(route="fast", seconds=0.001)
    metrics.record_prompt(prompt="support-reply", version=3)
    metrics.record_prompt_error(code="prompt_not_found")
    metrics.record_config_reload(result="applied")
    metrics.record_config_loaded(sha256="ab" * 32, previous=None, at=1.0)
    body, content_type = metrics.render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    assert set(families) == set(FAMILIES)  # no `_created` series either
    for name, family in families.items():
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == FAMILIES[name], sample


def test_prompt_series_are_bounded_and_the_rest_counted_as_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_PROMPT_SERIES", 2)
    for version in (1, 2, 3, 4, 1):
        metrics.record_prompt(prompt="support-reply", version=version)
    samples = scrape()
    counted = {dict(labels)["version"]: count for (name, labels), count in samples.items()
               if name == "llm_gateway_prompt_requests_total"}  # fmt: skip
    assert counted == {"1": 2, "2": 1, "other": 2}


def test_long_label_values_are_cut() -> None:
    metrics.record_answer(**{**ANSWER, "response_model": "m" * 1000})
    samples = scrape()
    labels = gen_ai(response="m" * 128, gen_ai_token_type="input")
    assert value(samples, "gen_ai_client_token_usage_count", **labels) == 1


def test_totals_stay_right_when_the_label_cache_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_CACHE_LIMIT", 2)
    for _ in range(3):
        for tenant in ("a", "b", "c", "d"):
            metrics.record_answer(**{**ANSWER, "tenant": tenant})
        for reason in ("x", "y", "z"):
            metrics.record_rejection(reason=reason, status=400)
    samples = scrape()
    for tenant in ("a", "b", "c", "d"):
        assert value(samples, "llm_gateway_cost_usd_total", model="gpt-4o-mini", provider="openai",
                     tenant=tenant) == pytest.approx(0.75)  # fmt: skip
    assert value(samples, "llm_gateway_requests_total", route="smart", status="200", stream="false") == 12
    assert value(samples, "llm_gateway_rejections_total", reason="z", status="400") == 3


def test_configure_sets_and_clears_the_multiprocess_variable(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    metrics.configure(str(directory))
    assert os.environ[metrics.MULTIPROC_DIR_ENV] == str(directory)
    assert directory.is_dir()
    metrics.record_answer(**ANSWER)
    assert glob.glob(str(directory / f"*_{os.getpid()}.db"))
    metrics.configure(None)
    assert metrics.MULTIPROC_DIR_ENV not in os.environ
    assert value(scrape(), "llm_gateway_requests_total", route="smart", status="200", stream="false") is None


def test_processes_sum_into_one_view(tmp_path: Path) -> None:
    directory = str(tmp_path)
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, directory, tenant, str(count)], cwd=ROOT)
        for tenant, count in (("team-a", 200), ("team-b", 300))
    ]
    for child in children:
        assert child.wait(timeout=60) == 0
    assert len(glob.glob(os.path.join(directory, "counter_*.db"))) == 2
    metrics.configure(directory)
    metrics.record_answer(**{**ANSWER, "stream": True, "tenant": "team-a"})
    for child in children:
        metrics.mark_process_dead(child.pid)  # the totals of exited processes stay
    samples = scrape()
    assert value(samples, "llm_gateway_requests_total", route="smart", status="200", stream="true") == 501
    tokens = dict(model="gpt-4o-mini", provider="openai")
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-a", type="prompt") == 200 * 10 + 1200
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-b", type="completion") == 300 * 5
    assert value(samples, "llm_gateway_tokens_total", **tokens, tenant="team-b", type="cached") == 300 * 2
    assert value(samples, "llm_gateway_cost_usd_total", **tokens, tenant="team-a") == pytest.approx(100.25)
    assert value(samples, "llm_gateway_cost_usd_total", **tokens, tenant="team-b") == pytest.approx(150.0)
    assert value(samples, "llm_gateway_rejections_total", reason="max_cost_exceeded", status="402") == 2
    children_labels = gen_ai(response="unknown", error_type="")
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **children_labels) == 500
    assert value(samples, "gen_ai_client_operation_duration_seconds_bucket", **children_labels, le="0.16") == 500
    assert value(samples, "gen_ai_client_token_usage_sum", **gen_ai(gen_ai_token_type="input")) == 1200


def test_mark_process_dead_removes_only_live_gauges(tmp_path: Path) -> None:
    metrics.configure(str(tmp_path))
    metrics.record_answer(**ANSWER)
    live = tmp_path / "gauge_livesum_4242.db"
    live.write_bytes(b"")
    metrics.mark_process_dead(4242)
    assert not live.exists()
    metrics.mark_process_dead(os.getpid(), str(tmp_path))
    assert value(scrape(), "llm_gateway_requests_total", route="smart", status="200", stream="false") == 1


def test_mark_process_dead_without_a_directory_does_nothing() -> None:
    metrics.mark_process_dead(4242)


def test_prepare_directory_forgets_an_earlier_run(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    metrics.prepare_directory(str(directory))
    (directory / "counter_1.db").write_bytes(b"stale")
    (directory / "keep.txt").write_text("not ours")
    metrics.prepare_directory(str(directory))
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]


async def test_http_server_answers_get_metrics() -> None:
    metrics.record_answer(**ANSWER)
    server = await metrics_http.start_http_server("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == metrics.CONTENT_TYPE
                text = await response.text()
            async with session.get(f"{url}/other") as response:
                assert response.status == 404
    finally:
        await server.stop()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["llm_gateway_requests"].samples[0].value == 1
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"{url}/metrics"):
                pass


async def test_http_servers_of_several_processes_may_share_a_port() -> None:
    first = await metrics_http.start_http_server("127.0.0.1", 0, reuse_port=True)
    try:
        second = await metrics_http.start_http_server("127.0.0.1", first.port, reuse_port=True)
        await second.stop()
    finally:
        await first.stop()


def test_fallbacks_and_time_to_first_token() -> None:
    metrics.record_answer(**{**ANSWER, "attempt": 1, "stream": True, "time_to_first_token_s": 0.03})
    metrics.record_answer(**{**ANSWER, "attempt": 3, "stream": True, "time_to_first_token_s": 0.3})
    metrics.record_answer(**ANSWER)  # buffered, first attempt: neither
    samples = scrape()
    assert value(samples, "llm_gateway_fallbacks_total", route="smart", provider="openai") == 1
    assert value(samples, "gen_ai_server_time_to_first_token_seconds_count", **gen_ai()) == 2
    assert value(samples, "gen_ai_server_time_to_first_token_seconds_bucket", **gen_ai(le="0.04")) == 1


def test_time_per_output_token_and_upstream_latency() -> None:
    metrics.record_answer(**{**ANSWER, "stream": True, "time_per_output_token_s": 0.02, "upstream_latency_s": 0.3})
    metrics.record_answer(**{**ANSWER, "upstream_latency_s": 1.5})  # buffered: no time per token
    metrics.record_answer(**ANSWER)  # Envoy gave no upstream time (the service answered): nothing
    samples = scrape()
    assert value(samples, "gen_ai_server_time_per_output_token_seconds_count", **gen_ai()) == 1
    assert value(samples, "gen_ai_server_time_per_output_token_seconds_bucket", **gen_ai(le="0.025")) == 1
    assert value(samples, "gen_ai_server_time_per_output_token_seconds_bucket", **gen_ai(le="0.01")) == 0
    upstream = dict(model="gpt-4o-mini", provider="openai")
    assert value(samples, "llm_gateway_upstream_latency_seconds_count", **upstream) == 2
    assert value(samples, "llm_gateway_upstream_latency_seconds_sum", **upstream) == pytest.approx(1.8)


def test_overhead_per_route_counts_every_request_the_service_saw() -> None:
    metrics.record_overhead(route="fast", seconds=0.0004)
    metrics.record_overhead(route="fast", seconds=0.003)
    metrics.record_overhead(route=None, seconds=0.0002)  # refused before routing
    samples = scrape()
    assert value(samples, "llm_gateway_overhead_seconds_count", route="fast") == 2
    assert value(samples, "llm_gateway_overhead_seconds_bucket", route="fast", le="0.0005") == 1
    assert value(samples, "llm_gateway_overhead_seconds_sum", route="fast") == pytest.approx(0.0034)
    assert value(samples, "llm_gateway_overhead_seconds_count", route="unknown") == 1
