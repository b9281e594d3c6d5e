"""The LLM Proxy seed's API (docs/seed-api.md) through real Envoy, the service and the fake provider:
its documented bodies and each optional field, dry runs, a maximum cost, the estimate, the status
from Envoy's cluster health, and its error shapes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extproc.ops.launcher import Stack
from extproc.tenancy.settings import tenancy_metadata
from tests.support.sdk_clients import AUTH

from .conftest import fake_requests, shipped_config, start_stack, wait_until

CLAUDE_CLUSTER = "fake_anthropic_claude_haiku"


def _with_failing_claude_health_check() -> dict[str, Any]:
    """The shipped config, the Claude cluster health-checked on a path the fake provider does not serve."""
    config = shipped_config()
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == CLAUDE_CLUSTER:
            cluster["health_checks"] = [{
                "timeout": "1s", "interval": "1s", "no_traffic_interval": "1s", "unhealthy_threshold": 1,
                "healthy_threshold": 1, "http_health_check": {"path": "/_fake/no-such-health-path"},
            }]  # fmt: skip
    return copy.deepcopy(config)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("seed"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["status"] == "error" and set(payload) == {"status", "error", "request_id"}
    assert payload["error"]["code"] == code and payload["error"]["field"] == field, payload
    assert payload["error"]["message"]
    return payload


# --- queries ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/query", "/v1/gateway/query"])
def test_a_query_is_answered_in_the_seeds_shape_with_its_tokens_and_cost(http: httpx.Client, path: str) -> None:
    response = http.post(path, json={"query": "Summarise: the gateway works.", "model": "openai", "model_version": "gpt-4o-mini"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["object"] == "gateway.query" and answer["status"] == "success" and answer["dry_run"] is False
    assert answer["model"] == "gpt-4o-mini" and answer["provider"] == "openai" and answer["response"]
    assert answer["gateway_request_id"] == response.headers["x-gateway-request-id"] == answer["request_id"]
    usage = answer["token_usage"]
    assert answer["num_tokens"] == usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == int(response.headers["x-gateway-prompt-tokens"])
    assert answer["cost"]["total_usd"] == pytest.approx(float(response.headers["x-gateway-cost-usd"]))
    assert answer["cost"]["currency"] == "USD" and answer["finish_reason"] == "stop"


def test_every_optional_field_is_honoured(http: httpx.Client, stack: Stack) -> None:
    before = len(fake_requests(stack))
    response = http.post("/v1/gateway/query", json={
        "query": "Summarise the attached release notes in two sentences.", "model": "openai",
        "model_version": "gpt-4o", "task_type": "summarization", "max_cost_usd": 5.0, "dry_run": False,
        "request_id": "client-42", "tenant": "test", "max_tokens": 40,
    })  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["request_id"] == "client-42" and answer["gateway_request_id"] != "client-42"
    assert answer["model"] == "gpt-4o" and answer["task_type"] == "summarization"
    assert answer["cost"]["estimated_max_usd"] is not None and answer["cost"]["estimated_max_usd"] <= 5.0
    sent = fake_requests(stack)[before:]
    assert len(sent) == 1 and sent[0]["body"]["max_tokens"] == 40 and "x_gateway" not in sent[0]["body"]
    assert sent[0]["body"]["messages"] == [{"role": "user", "content": "Summarise the attached release notes in two sentences."}]


def test_a_provider_name_picks_its_model_and_auto_lets_routing_choose(http: httpx.Client) -> None:
    claude = http.post("/api/query", json={"query": "Hello there", "model": "claude"})
    assert claude.status_code == 200, claude.text
    assert claude.json()["model"] == "claude-haiku-4-5" and claude.json()["provider"] == "anthropic"
    auto = http.post("/api/query", json={"query": "def add(a, b): return a + b  # fix this Python", "task_type": "code"})
    assert auto.status_code == 200, auto.text
    assert auto.json()["model"] != "auto" and auto.headers.get("x-gateway-route-reason")


def test_a_dry_run_calls_no_provider_and_spends_nothing(http: httpx.Client, stack: Stack) -> None:
    before = len(fake_requests(stack))
    response = http.post("/api/query", json={"query": "Translate: bonjour", "model": "openai", "dry_run": True,
                                             "max_tokens": 100, "request_id": "dry-1"})  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "dry_run" and answer["dry_run"] is True and answer["response"] is None
    assert answer["request_id"] == "dry-1" and answer["cost"]["total_usd"] == 0.0
    assert answer["cost"]["estimated_max_usd"] > 0 and answer["token_usage"]["completion_tokens"] == 100
    assert answer["num_tokens"] == answer["token_usage"]["prompt_tokens"] > 0
    assert len(fake_requests(stack)) == before


def test_a_maximum_cost_below_the_estimate_is_refused_before_the_call(http: httpx.Client, stack: Stack) -> None:
    before = len(fake_requests(stack))
    response = http.post("/api/query", json={"query": "Write a long essay.", "model": "openai", "model_version": "gpt-4o",
                                             "max_cost_usd": 0.0000001, "request_id": "cap-1"})  # fmt: skip
    _error(response, 400, "cost_limit_exceeded")
    assert len(fake_requests(stack)) == before


def test_the_seeds_estimate_body_gets_the_seeds_estimate(http: httpx.Client) -> None:
    response = http.post("/v1/gateway/cost-estimate", json={"query": "Translate: bonjour", "model": "openai",
                                                            "model_version": "gpt-4o", "expected_response_tokens": 100})  # fmt: skip
    assert response.status_code == 200, response.text
    estimate = response.json()
    assert estimate["object"] == "gateway.cost_estimate" and estimate["model"] == "gpt-4o"
    assert estimate["expected_response_tokens"] == 100 and estimate["num_tokens"] > 0
    cost = estimate["cost_estimate"]
    assert cost["total_usd"] == pytest.approx(cost["prompt_usd"] + cost["response_usd"]) and cost["total_usd"] > 0
    # A chat body still gets the gateway's own estimate.
    chat = http.post("/v1/gateway/cost-estimate", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200 and "endpoints" in chat.json() and "cost_estimate" not in chat.json()


def test_a_repeated_query_is_answered_from_the_cache_in_the_seeds_shape(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = shipped_config()
    tenancy_metadata(config)["cache"] = {"mode": "exact", "ttl_seconds": 600}
    stack = start_stack(tmp_path_factory.mktemp("seed-cache"), config)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
            body = {"query": "What is the capital of France?", "model": "openai", "model_version": "gpt-4o-mini"}
            first, second = client.post("/api/query", json=body).json(), client.post("/api/query", json=body).json()
        assert first["cache"] == "miss" and second["cache"] == "hit", (first, second)
        assert second["object"] == "gateway.query" and second["response"] == first["response"]
        assert second["cost"]["total_usd"] == 0.0 and second["num_tokens"] == first["num_tokens"]
        assert len(fake_requests(stack)) == 1
    finally:
        stack.stop()


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"query": "hi", "dry_run": "yes"}, "invalid_type", "dry_run"),
        ({"query": "hi", "max_cost_usd": "0.05"}, "invalid_type", "max_cost_usd"),
        ({"query": 42}, "invalid_type", "query"),
        ({"query": "hi", "max_tokens": "many"}, "invalid_type", "max_tokens"),
        ({"model": "openai"}, "missing_field", "query"),
        ({"query": "   "}, "invalid_value", "query"),
        ({"query": "hi", "model": "no-such-provider"}, "unknown_model", "model"),
        ({"query": "hi", "model": "openai", "model_version": "gpt-9"}, "unknown_model_version", "model_version"),
        ({"query": "hi", "task_type": "poetry"}, "unknown_task_type", "task_type"),
        ([1, 2], "invalid_type", None),
    ],
)
def test_a_wrong_body_is_a_400_in_the_seeds_error_shape(http: httpx.Client, body: Any, code: str, field: str | None) -> None:
    _error(http.post("/api/query", json=body), 400, code, field)


def test_a_body_that_is_not_json_is_a_400_in_the_seeds_shape(http: httpx.Client) -> None:
    _error(http.post("/api/query", content=b"{not json", headers={"content-type": "application/json"}), 400, "invalid_json")


def test_a_tenant_that_is_not_the_keys_is_a_403(http: httpx.Client, stack: Stack) -> None:
    before = len(fake_requests(stack))
    _error(http.post("/api/query", json={"query": "hi", "tenant": "someone-else"}), 403, "tenant_mismatch", "tenant")
    assert len(fake_requests(stack)) == before


def test_a_wrong_key_is_a_401_in_the_seeds_shape(stack: Stack) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as anonymous:
        _error(anonymous.post("/api/query", json={"query": "hi"}), 401, "missing_api_key")
        wrong = anonymous.post("/api/query", json={"query": "hi"}, headers={"authorization": "Bearer sk-gw-nope-0123456789"})
        assert wrong.status_code == 401 and wrong.json()["status"] == "error"
        assert anonymous.get("/api/status").status_code == 401


# --- status ----------------------------------------------------------------------------------


def test_status_reports_each_configured_provider_up(http: httpx.Client) -> None:
    response = http.get("/api/status")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["status"] == "ok"
    assert {"openai", "anthropic", "gemini"} <= set(status["providers"])
    assert all(p["status"] == "up" and p["healthy_endpoints"] == p["endpoints"] > 0 for p in status["providers"].values())


def test_status_turns_a_provider_down_when_envoy_finds_its_cluster_unhealthy(tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = start_stack(tmp_path_factory.mktemp("seed-status"), _with_failing_claude_health_check())
    try:
        url = f"http://127.0.0.1:{stack.port}/api/status"

        def anthropic_down() -> bool:
            providers = httpx.get(url, headers=AUTH, timeout=10).json()["providers"]
            return providers["anthropic"]["healthy_endpoints"] < providers["anthropic"]["endpoints"]

        wait_until(anthropic_down, timeout=30)
        status = httpx.get(url, headers=AUTH, timeout=10).json()
        assert status["status"] == "degraded"
        assert status["providers"]["openai"]["status"] == "up"
        assert status["providers"]["anthropic"]["status"] in ("down", "degraded")
    finally:
        stack.stop()
