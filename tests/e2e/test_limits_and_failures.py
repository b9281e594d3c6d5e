"""Envoy's own limits, upstream timeouts, and the ext_proc service going away and coming back."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extproc.config.envoy_yaml import iter_routes
from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.recording import fingerprint
from extproc.fake_provider.server import FakeServer
from extproc.fake_provider.testing import running
from extproc.ops.launcher import Stack
from tests.support.lanes import LANE_CREDENTIAL_HEADER, LANE_KEY_ENV, basic, htpasswd_line, with_example_lane
from tests.support.sdk_clients import AUTH

from .conftest import fake_requests, shipped_config, start_stack, wait_until

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
            stack.stop_service(0)
            down = client.post(CHAT, json=BODY)
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "gateway_unavailable"
            stack.start_service(0)
            stack.wait_service_healthy(0)
            wait_until(lambda: client.post(CHAT, json=BODY).status_code == 200)
        assert stack.children()["envoy"] == envoy_pid
    finally:
        stack.stop()


# --- no keyless path to a provider ------------------------------------------------------------


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped config with one service process, which the tests below stop or freeze."""
    stack = start_stack(tmp_path_factory.mktemp("single"), workers=1)
    try:
        yield stack
    finally:
        stack.stop()


def _every_path(config: dict[str, Any]) -> list[str]:
    """The API paths, and the same under every route prefix of `config` (a lane's `/local/v1/`...)."""
    api = ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/gateway/cost-estimate", "/v1/completions"]
    prefixes = {"/"}
    for route in iter_routes(config):
        match = route.get("match") or {}
        prefixes.add(str(match.get("prefix") or match.get("path") or "/"))
    paths = set(api)
    for prefix in prefixes - {"/"}:
        paths.update(prefix.rstrip("/") + p.removeprefix("/v1") if prefix.endswith("/v1/") else prefix for p in api)
    return sorted(paths)


def _unauthenticated_attempts(stack: Stack, marker: str) -> list[int]:
    """Every path, no key or a made-up one, asking for each model with n=128; their statuses."""
    config = shipped_config()
    bodies = [
        {"model": model, "n": 128, "max_tokens": 5, "input": marker, "messages": [{"role": "user", "content": marker}]}
        for model in ("llama-3.1-8b", "local", "gpt-4o", "no-such-model")
    ]
    credentials: list[dict[str, str]] = [{}, {"authorization": "Bearer sk-made-up"}, {"x-api-key": "sk-made-up"}]
    spoofed = {"x-gateway-model": "llama-3.1-8b", "x-envoy-original-path": "/local/v1/chat/completions"}
    jobs = [
        (path, body, {**headers, **extra})
        for path in _every_path(config)
        for body in bodies
        for headers in credentials
        for extra in ({}, spoofed)
    ]

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.port}", timeout=60) as client:
            replies = await asyncio.gather(*(client.post(path, json=body, headers=h) for path, body, h in jobs))
        return [r.status_code for r in replies]

    return asyncio.run(run())


def _reached_provider(stack: Stack, marker: str) -> list[dict[str, Any]]:
    return [r for r in fake_requests(stack) if marker in str(r.get("body"))]


def test_no_unauthenticated_request_reaches_a_provider_while_the_service_is_stopped(single: Stack) -> None:
    marker = f"stopped-{uuid.uuid4()}"
    single.stop_service(0)
    try:
        statuses = _unauthenticated_attempts(single, marker)
    finally:
        single.start_service(0)
        single.wait_service_healthy(0)
    assert statuses and all(s >= 400 for s in statuses), sorted(set(statuses))
    assert _reached_provider(single, marker) == []


def test_no_unauthenticated_request_reaches_a_provider_while_the_service_is_stuck(single: Stack) -> None:
    """SIGSTOP: the process holds its sockets but answers nothing, as under a CPU-bound request."""
    marker = f"stuck-{uuid.uuid4()}"
    pid = single.children()["service-0"]
    os.kill(pid, signal.SIGSTOP)
    try:
        statuses = _unauthenticated_attempts(single, marker)
    finally:
        os.kill(pid, signal.SIGCONT)
        single.wait_service_healthy(0)
    assert statuses and all(s >= 400 for s in statuses), sorted(set(statuses))
    assert _reached_provider(single, marker) == []


# --- the documented fail-open lane (examples/fail-open-lane.yaml) -----------------------------


@pytest.fixture(scope="module")
def laned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FakeServer]]:
    """The shipped config plus the documented lane, its local_vllm served by a fake provider of
    its own that takes only the lane's key (the "own server")."""
    tmp = tmp_path_factory.mktemp("laned")
    users = tmp / "lane.htpasswd"
    users.write_text(htpasswd_line("ops", LANE_PASSWORD))
    with running(FakeConfig(required_key=LANE_KEY)) as own:
        config = with_example_lane(shipped_config(), users)
        for cluster in config["static_resources"]["clusters"]:
            if cluster["name"] == "local_vllm":
                lb_endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
                lb_endpoint["endpoint"]["address"]["socket_address"]["port_value"] = own.port
                lb_endpoint["metadata"]["filter_metadata"]["llm_gateway"]["api_base"] = f"{own.url}/v1"
        stack = start_stack(tmp, config, workers=1, extra_env={LANE_KEY_ENV: LANE_KEY})
        try:
            yield stack, own
        finally:
            stack.stop()


LANE_KEY = "own-server-key-0123456789"
LANE_PASSWORD = "lane-password-9876"
LANE_PATH = "/local/v1/chat/completions"


def _own_requests(own: FakeServer, marker: str) -> list[dict[str, Any]]:
    entries = httpx.get(f"{own.url}/_fake/requests", timeout=10).json()["requests"]
    return [r for r in entries if marker in str(r.get("body"))]


def test_the_documented_lane_authenticates_in_envoy_and_reaches_only_its_own_server(laned: tuple[Stack, FakeServer]) -> None:
    stack, own = laned
    lane_auth = {LANE_CREDENTIAL_HEADER: basic("ops", LANE_PASSWORD)}
    marker = f"lane-{uuid.uuid4()}"
    body = {"model": "local", "max_tokens": 5, "messages": [{"role": "user", "content": marker}]}
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as client:
        up = client.post(LANE_PATH, json=body, headers={**AUTH, **lane_auth})
        assert up.status_code == 200, up.text
        assert "x-gateway-cost-usd" in up.headers  # the full treatment while the service is up
        refused = client.post(LANE_PATH, json=body, headers=AUTH)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        stack.stop_service(0)
        try:
            for headers in ({}, AUTH, {LANE_CREDENTIAL_HEADER: basic("ops", "wrong")}):
                answer = client.post(LANE_PATH, json={**body, "n": 128}, headers=headers)
                assert answer.status_code == 401, answer.text
            assert client.post(CHAT, json=body, headers={**AUTH, **lane_auth}).status_code == 503
            down = client.post(LANE_PATH, json=body, headers={**AUTH, **lane_auth, "cookie": "session=1"})
            assert down.status_code == 200, down.text
            assert "x-gateway-served-model" not in down.headers  # Envoy alone served it
        finally:
            stack.start_service(0)
            stack.wait_service_healthy(0)
    reached = _own_requests(own, marker)
    assert len(reached) == 2  # the one served with the service up, the one without
    for request in reached:
        headers = request["headers"]
        assert headers["authorization"] == "Bearer " + fingerprint(LANE_KEY)  # its own key, never the client's
        assert LANE_CREDENTIAL_HEADER not in headers and "cookie" not in headers
    assert _reached_provider(stack, marker) == []  # nothing went to the paid providers' stand-in
