"""Envoy's own limits, upstream timeouts, and the ext_proc service going away and coming back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from extproc.fake_provider.recording import fingerprint
from extproc.launcher import Stack

from .conftest import fake_requests, shipped_config, start_stack, wait_until
from tests.sdk_clients import AUTH

pytestmark = pytest.mark.e2e

CHAT = "/v1/chat/completions"
BODY = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped config with a 5-request per-IP bucket refilled once a minute."""
    config = shipped_config()
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    for http_filter in hcm["http_filters"]:
        if http_filter["name"] == "envoy.filters.http.local_ratelimit":
            bucket = http_filter["typed_config"]["descriptors"][0]["token_bucket"]
            bucket.update(max_tokens=5, tokens_per_fill=1, fill_interval="60s")
    stack = start_stack(tmp_path_factory.mktemp("tight"), config)
    try:
        yield stack
    finally:
        stack.stop()


def test_per_ip_bucket_answers_429_in_openai_json(tight: Stack) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{tight.port}", timeout=30, headers=AUTH) as client:
        statuses = [client.get("/v1/models").status_code for _ in range(5)]
        limited = client.get("/v1/models")
    assert statuses == [200] * 5
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


def test_upstream_timeout_is_504(tmp_path: Path) -> None:
    config = shipped_config()
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    for route in hcm["route_config"]["virtual_hosts"][0]["routes"]:
        if route.get("route", {}).get("cluster") == "fake_openai_gpt_4o_mini":
            route["route"]["timeout"] = "1s"
    stack = start_stack(tmp_path, config)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
            response = client.post(CHAT, json=BODY, headers={"x-fake-latency-ms": "3000"})
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "upstream_timeout"
    finally:
        stack.stop()


def test_service_down_fails_closed_then_recovers_without_envoy_restart(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, workers=1)
    try:
        envoy_pid = stack.children()["envoy"]
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
            assert client.post(CHAT, json=BODY).status_code == 200
            local = {"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "still there?"}]}
            lane_up = client.post("/local/v1/chat/completions", json=local)
            assert lane_up.status_code == 200 and lane_up.headers["x-gateway-served-model"] == "llama-3.1-8b"
            assert "x-gateway-cost-usd" in lane_up.headers  # the full treatment while the service is up
            stack.stop_service(0)
            down = client.post(CHAT, json=BODY)
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "gateway_unavailable"
            # The fail-open lane still reaches the local model, untouched by the gateway.
            lane_down = client.post("/local/v1/chat/completions", json=local)
            assert lane_down.status_code == 200, lane_down.text
            assert lane_down.json()["choices"][0]["message"]["content"]
            assert "x-gateway-served-model" not in lane_down.headers
            # Envoy rewrote the lane away and injected the local server's key itself.
            reached = [r for r in fake_requests(stack) if "still there?" in str(r.get("body"))][-1]
            assert reached["path"] == "/v1/chat/completions"
            auth = {k.lower(): v for k, v in reached["headers"].items()}["authorization"]
            assert auth == "Bearer " + fingerprint(stack.env["FAKE_PROVIDER_API_KEY"])  # recordings hash keys
            # Nothing reached the provider while the policy service was down.
            stack.start_service(0)
            stack.wait_service_healthy(0)
            wait_until(lambda: client.post(CHAT, json=BODY).status_code == 200)
        assert stack.children()["envoy"] == envoy_pid
    finally:
        stack.stop()
