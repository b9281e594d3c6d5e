"""Fallback chains, retries and circuit breaking: Envoy fails over, each attempt translated for its provider.

The shipped `reliable` model is a chain: a local Llama on vLLM (priority 0),
Claude (1), GPT-4o (2), all played by the fake provider. `x-fake-fault-models`
makes only the named models fail, so one level can fail while the next serves.

Outlier detection would eject the Llama level after a few of these tests and
shift the rest (that is what it is for), so the chain tests run on a stack
without it, and circuit breaking is tested on its own stack at the end.
"""

from __future__ import annotations

import copy
import random
import string
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from extproc.ops.launcher import Stack
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack, wait_until
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, anthropic_client, openai_client

CHAT = "/v1/chat/completions"
LLAMA, CLAUDE, GPT4O = "llama-3.1-8b", "claude-haiku-4-5", "gpt-4o"  # the chain's levels


def _without_outlier_detection(per_try_timeout: str | None = None) -> dict[str, Any]:
    config = shipped_config()
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == "reliable_chain":
            del cluster["outlier_detection"]
    if per_try_timeout is not None:
        hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        for route in hcm["route_config"]["virtual_hosts"][0]["routes"]:
            policy = (route.get("route") or {}).get("retry_policy")
            if policy is not None:
                route["route"]["retry_policy"] = {**policy, "per_try_timeout": per_try_timeout}
    return config


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A 2 s per-try timeout (60 s shipped) lets a test wait one out.
    config = _without_outlier_detection("2s")
    # The load test below sends 2,000 requests in well under a minute, above the shipped per-key limit.
    tenancy_metadata(config)["tenants"] = {"test": {"per_key": {"requests_per_minute": 100000}}}
    stack = start_stack(tmp_path_factory.mktemp("chain"), config, workers=2)
    try:
        # The load test below sends more than the per-client-IP bucket allows; switch it off (the runtime lever).
        httpx.post(f"{stack.admin_url}/runtime_modify?llm_gateway.per_ip_rate_limit.enabled=0", timeout=10).raise_for_status()
        yield stack
    finally:
        stack.stop()


@pytest.fixture()
def http(chain: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{chain.port}", timeout=30, headers=AUTH) as client:
        yield client


def _ask(http: httpx.Client, headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    body = {"model": "reliable", "messages": [{"role": "user", "content": "Say something reliable."}], **extra}
    return http.post(CHAT, json=body, headers=headers or {})


def _fail(*models: str, status: int = 503) -> dict[str, str]:
    return {"x-fake-status": str(status), "x-fake-fault-models": ",".join(models)}


def _attempts(response: httpx.Response) -> list[str]:
    return [item.split(";")[0] for item in response.headers["x-gateway-attempts"].split(", ")]


def test_the_first_level_serves_when_it_is_healthy(http: httpx.Client) -> None:
    response = _ask(http)
    assert response.status_code == 200
    assert response.headers["x-gateway-served-model"] == LLAMA
    assert response.headers["x-gateway-attempt"] == "1"
    assert _attempts(response) == [f"hosted_vllm/{LLAMA}"]


def test_an_openai_endpoint_falls_back_to_anthropic_and_the_client_still_gets_openai(chain: Stack) -> None:
    """The vLLM level speaks OpenAI's wire, Claude Anthropic's: the SDK sees one OpenAI answer."""
    raw = openai_client(chain.base_url).chat.completions.with_raw_response.create(
        model="reliable",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
        max_tokens=40,
        extra_headers=_fail(LLAMA),
    )
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.model == CLAUDE
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert raw.headers["x-gateway-served-model"] == CLAUDE and raw.headers["x-gateway-provider"] == "anthropic"
    assert raw.headers["x-gateway-attempt"] == "2"
    first, second = raw.headers["x-gateway-attempts"].split(", ")
    assert first.startswith(f"hosted_vllm/{LLAMA};status=503;ms=")
    assert second.startswith(f"anthropic/{CLAUDE};status=200;ms=")
    assert float(raw.headers["x-gateway-cost-usd"]) > 0  # priced as Claude, the model that answered
    entry = access_log_entry(chain, raw.headers["x-gateway-request-id"])
    assert entry["path"] == "/v1/chat/completions" and entry["upstream_path"] == "/v1/messages"
    assert entry["attempts"] == raw.headers["x-gateway-attempts"]


def test_the_log_line_shows_how_long_envoy_waited_for_each_ext_proc_call(chain: Stack, http: httpx.Client) -> None:
    """Envoy's own timings of the router filter's four messages, and of the upstream filter's calls
    apart from them (one filter name each); a cluster prepared at the router has no upstream calls."""
    response = _ask(http, headers=_fail(LLAMA))
    assert response.status_code == 200
    entry = access_log_entry(chain, response.headers["x-gateway-request-id"])
    for phase in ("request_headers", "request_body", "response_headers", "response_body"):
        assert int(entry[f"ext_proc_{phase}_us"]) > 0, phase
    assert int(entry["ext_proc_response_body_calls"]) == 1
    # rh:<us>:<grpc status>,rb:<calls>:<us>:<status>,sh:<us>:<status>,...: headers of the first
    # attempt, the body calls of both attempts (the Llama level failed, Claude answered).
    calls = dict(item.split(":", 1) for item in entry["ext_proc_upstream"].split(","))
    assert calls["rh"].endswith(":0") and calls["rb"].startswith("2:") and calls["sh"].endswith(":0")
    assert "sb" not in calls  # the upstream filter never sees response bodies
    # Claude's own cluster keeps the upstream filter as shipped: its one attempt has a record of its own.
    claude = http.post(CHAT, json={"model": CLAUDE, "messages": [{"role": "user", "content": "Hi."}]})
    assert claude.status_code == 200 and claude.json()["object"] == "chat.completion"
    line = access_log_entry(chain, claude.headers["x-gateway-request-id"])
    assert line["upstream_path"] == "/v1/messages" and line["ext_proc_upstream"].startswith("rh:")
    # gpt-4o-mini's cluster has no upstream filter: prepared by the router filter, no second stream.
    prepared = http.post(CHAT, json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi."}]})
    assert prepared.status_code == 200
    line = access_log_entry(chain, prepared.headers["x-gateway-request-id"])
    assert int(line["ext_proc_request_body_us"]) > 0 and line["ext_proc_upstream"] in (None, "", "-")


def test_each_attempt_reaches_its_provider_in_its_own_wire_format_and_keys(chain: Stack, http: httpx.Client) -> None:
    marker = f"wire-check-{_letters()}"
    response = _ask(http, _fail(LLAMA, CLAUDE), messages=[{"role": "user", "content": marker}])
    assert response.status_code == 200 and response.headers["x-gateway-served-model"] == GPT4O
    seen = [r for r in fake_requests(chain) if marker in str(r.get("body"))]
    assert [(r["path"], r["body"]["model"]) for r in seen] == [
        ("/v1/chat/completions", LLAMA),
        ("/v1/messages", CLAUDE),
        ("/v1/chat/completions", GPT4O),
    ]
    anthropic_headers = {k.lower() for k in seen[1]["headers"]}
    openai_headers = {k.lower() for k in seen[2]["headers"]}
    assert "x-api-key" in anthropic_headers and "authorization" not in anthropic_headers
    # What the Anthropic attempt set is gone from the next attempt (Envoy shares one header map).
    assert "authorization" in openai_headers and "x-api-key" not in openai_headers
    assert "anthropic-version" not in openai_headers and "x-envoy-attempt-count" not in openai_headers


def test_when_every_level_fails_the_last_error_comes_back_with_the_attempt_log(http: httpx.Client) -> None:
    response = _ask(http, _fail(LLAMA, CLAUDE, GPT4O, status=500))
    assert response.status_code == 500
    # The last provider's own error, verbatim in OpenAI's format.
    assert response.json()["error"]["type"] == "server_error"
    assert response.headers["x-gateway-attempt"] == "3"
    assert _attempts(response) == [f"hosted_vllm/{LLAMA}", f"anthropic/{CLAUDE}", f"openai/{GPT4O}"]
    assert all(";status=500;" in item for item in response.headers["x-gateway-attempts"].split(", "))


def test_an_anthropic_client_gets_the_last_error_in_anthropics_format(chain: Stack) -> None:
    import anthropic

    with pytest.raises(anthropic.APIStatusError) as raised:
        anthropic_client(chain.base_url.removesuffix("/v1")).messages.create(
            model="reliable",
            max_tokens=30,
            messages=[{"role": "user", "content": "hello"}],
            extra_headers=_fail(LLAMA, CLAUDE, GPT4O),
        )
    assert raised.value.status_code == 503
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"]  # type: ignore[index]
    assert raised.value.response.headers["x-gateway-attempt"] == "3"


def test_a_reset_falls_back_and_is_logged_without_a_status(http: httpx.Client) -> None:
    response = _ask(http, {"x-fake-reset-after-chunks": "0", "x-fake-fault-models": LLAMA})
    assert response.status_code == 200 and response.headers["x-gateway-served-model"] == CLAUDE
    assert response.headers["x-gateway-attempts"].split(", ")[0] == f"hosted_vllm/{LLAMA};status=none"


def test_a_level_slower_than_the_per_try_timeout_falls_back(http: httpx.Client) -> None:
    response = _ask(http, {"x-fake-latency-ms": "5000", "x-fake-fault-models": LLAMA})
    assert response.status_code == 200 and response.headers["x-gateway-served-model"] == CLAUDE
    assert response.headers["x-gateway-attempts"].split(", ")[0] == f"hosted_vllm/{LLAMA};status=none"


def test_a_stream_longer_than_the_per_try_timeout_is_not_cut(chain: Stack) -> None:
    """The per-try timeout bounds the time to the first byte, not a stream's length."""
    stream = openai_client(chain.base_url).chat.completions.create(
        model="reliable",
        stream=True,
        max_tokens=40,
        messages=[{"role": "user", "content": "a long answer that takes its time to arrive in many small chunks"}],
        extra_headers={"x-fake-chunk-delay-ms": "500"},
    )
    started = time.monotonic()
    chunks = list(stream)
    assert time.monotonic() - started > 2.5  # the stream outlived the 2 s per-try timeout
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert {c.model for c in chunks} == {LLAMA}


def test_a_stream_falls_back_before_its_first_byte(chain: Stack) -> None:
    stream = openai_client(chain.base_url).chat.completions.create(
        model="reliable",
        stream=True,
        messages=[{"role": "user", "content": "stream please"}],
        extra_headers=_fail(LLAMA),
    )
    chunks = list(stream)
    assert {c.model for c in chunks} == {CLAUDE}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_the_clients_cost_cap_stops_the_chain_before_a_dearer_level(chain: Stack, http: httpx.Client) -> None:
    # With max_tokens 1000: Llama costs ~0.0001 USD, Claude ~0.005, GPT-4o ~0.01.
    marker = f"capped-{_letters()}"
    response = _ask(
        http,
        {**_fail(LLAMA, CLAUDE), "llm-gateway-max-cost-usd": "0.007"},
        max_tokens=1000,
        messages=[{"role": "user", "content": marker}],
    )
    assert response.status_code == 503, response.text  # Claude's own error: the last affordable level
    assert _attempts(response) == [f"hosted_vllm/{LLAMA}", f"anthropic/{CLAUDE}"]
    assert not [r for r in fake_requests(chain) if marker in str(r.get("body")) and r["body"].get("model") == GPT4O]


def test_a_cap_the_first_level_already_exceeds_is_refused_before_any_call(http: httpx.Client) -> None:
    response = _ask(http, {"llm-gateway-max-cost-usd": "0.00000001"}, max_tokens=1000)
    assert response.status_code == 400 and response.json()["error"]["code"] == "cost_limit_exceeded"


def test_a_single_endpoint_route_retries_and_says_how_many_attempts_it_took(http: httpx.Client) -> None:
    response = http.post(
        CHAT, json={"model": "fast", "messages": [{"role": "user", "content": "x"}]}, headers={"x-fake-status": "502"}
    )
    assert response.status_code == 502 and response.headers["x-gateway-attempt"] == "3"


def test_thirty_percent_primary_failures_are_invisible_to_clients(chain: Stack) -> None:
    """2,000 requests; the primary fails 30% of them (seeded); two healthy levels behind it."""
    headers = {"x-fake-fail-rate": "0.3", "x-fake-fail-status": "503", "x-fake-fault-models": LLAMA}

    def one(i: int) -> tuple[int, str]:
        response = client.post(
            CHAT, json={"model": "reliable", "max_tokens": 16, "messages": [{"role": "user", "content": f"n{i}"}]},
            headers=headers,
        )  # fmt: skip
        return response.status_code, response.headers.get("x-gateway-served-model", "")

    with httpx.Client(base_url=f"http://127.0.0.1:{chain.port}", timeout=30, headers=AUTH) as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(2000)))
    statuses = Counter(status for status, _ in results)
    served = Counter(model for _, model in results)
    assert statuses == {200: 2000}
    # The fallback really carried the failed share (outlier ejection may move more onto it).
    assert served[LLAMA] > 1200 and served[CLAUDE] > 450, served


# --- circuit breaking ---------------------------------------------------------------------------------


def _fast_ejection_config() -> dict[str, Any]:
    """The shipped config with outlier detection sped up so ejection and recovery fit in a test."""
    config = shipped_config()
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == "reliable_chain":
            cluster["outlier_detection"] = {
                **copy.deepcopy(cluster["outlier_detection"]),
                "interval": "0.5s",
                "base_ejection_time": "3s",
                "max_ejection_time": "3s",
            }
    return config


@pytest.fixture(scope="module")
def ejecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("ejecting"), _fast_ejection_config())
    try:
        yield stack
    finally:
        stack.stop()


def _stats(stack: Stack) -> dict[str, int]:
    text = httpx.get(f"{stack.admin_url}/stats?filter=reliable_chain", timeout=10).text
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            values[name] = int(value)
    return values


def test_a_failing_primary_is_ejected_skipped_and_brought_back(ejecting: Stack, tmp_path: Path) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{ejecting.port}", timeout=30, headers=AUTH) as http:
        for _ in range(6):  # five 5xx in a row eject it
            assert _ask(http, _fail(LLAMA)).status_code == 200
        wait_until(lambda: _stats(ejecting).get("cluster.reliable_chain.outlier_detection.ejections_active") == 1, 10)
        assert _stats(ejecting)["cluster.reliable_chain.outlier_detection.ejections_enforced_consecutive_5xx"] >= 1

        # While it is out, requests go straight to the next level: one attempt, no failure first.
        skipped = _ask(http)
        assert skipped.status_code == 200 and _attempts(skipped) == [f"anthropic/{CLAUDE}"]

        # After the ejection time it serves again.
        wait_until(lambda: _stats(ejecting).get("cluster.reliable_chain.outlier_detection.ejections_active") == 0, 15)
        back = _ask(http)
        assert back.status_code == 200 and back.headers["x-gateway-served-model"] == LLAMA


def test_a_refused_connection_is_in_the_attempt_log(tmp_path: Path) -> None:
    """The first level's server is down (nothing listens): Envoy counts the attempt, no filter sees it."""
    from extproc.ops.launcher import free_port

    config = _without_outlier_detection()
    chain_cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "reliable_chain")
    level0 = chain_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    level0["endpoint"]["address"]["socket_address"]["port_value"] = free_port()
    # Without the fake provider's key variable, the launcher leaves the endpoint where it is.
    del level0["metadata"]["filter_metadata"]["llm_gateway"]["api_key_env"]
    stack = start_stack(tmp_path, config)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
            response = _ask(client)
        assert response.status_code == 200 and response.headers["x-gateway-served-model"] == CLAUDE
        assert response.headers["x-gateway-attempt"] == "2"
        assert response.headers["x-gateway-attempts"].split(", ")[0] == "unconnected;status=none"
    finally:
        stack.stop()


def test_fallbacks_and_time_to_first_token_are_in_the_metrics(chain: Stack, http: httpx.Client) -> None:
    def scrape() -> str:
        return http.get("/metrics", headers=ADMIN_AUTH).text

    def fallbacks(text: str) -> float:
        line = next((l for l in text.splitlines() if l.startswith('llm_gateway_fallbacks_total{provider="anthropic",route="reliable"}')), None)
        return float(line.split()[-1]) if line else 0.0

    before = fallbacks(scrape())
    assert _ask(http, _fail(LLAMA)).headers["x-gateway-served-model"] == CLAUDE
    list(openai_client(chain.base_url).chat.completions.create(
        model="reliable", stream=True, messages=[{"role": "user", "content": "ttft"}]))  # fmt: skip
    text = scrape()
    assert fallbacks(text) == before + 1
    assert any(l.startswith("gen_ai_server_time_to_first_token_seconds_count") and float(l.split()[-1]) >= 1
               for l in text.splitlines())  # fmt: skip


def _letters() -> str:
    """A marker to find a request by: letters only, since a long run of digits passes the card
    checksum one time in ten, and the shipped privacy policy masks it."""
    return "".join(random.choices(string.ascii_lowercase, k=20))
