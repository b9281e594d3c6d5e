"""A hostile client at the edge: headers it must not pass to a provider, strings it must not get echoed
whole, answers too big for a buffer, and connections it must not hold open."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extproc.config.envoy_yaml import iter_connection_managers
from extproc.fake_provider.recording import fingerprint
from extproc.ops.launcher import Stack
from tests.support.sdk_clients import AUTH, openai_client

from .conftest import access_log_entry, fake_requests, shipped_config, start_stack

pytestmark = pytest.mark.e2e

# Headers a client may send that must never travel beside the gateway's credentials: the operator's
# billing organisation or project, beta features the gateway does not price, the client's cookies
# and proxy credentials, SDK telemetry, its own idea of its address.
CLIENT_HEADERS = {
    "OpenAI-Organization": "org-of-the-operator",
    "OpenAI-Project": "proj-of-the-operator",
    "anthropic-beta": "context-1m-2025-08-07",
    "Cookie": "session=stolen",
    "Proxy-Authorization": "Basic c3B5OnNweQ==",
    "x-stainless-os": "Linux",
    "x-custom-tracking": "tenant-chosen",
    "Accept-Encoding": "gzip",
}


def _provider_request(stack: Stack, marker: str) -> dict[str, Any]:
    found = [r for r in fake_requests(stack) if marker in str(r.get("body"))]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("path", "model", "per_attempt"),
    [
        ("/v1/chat/completions", "smart", True),  # gpt-4o: the upstream filter prepares each attempt
        ("/v1/chat/completions", "claude", False),  # translated to Anthropic's wire by the router filter
        ("/v1/messages", "claude", False),  # an Anthropic client
        ("/v1/chat/completions", "fast", False),  # gpt-4o-mini: the router filter prepares it
        ("/v1/embeddings", "embed", False),
    ],
)
def test_client_headers_outside_the_allowlist_never_reach_the_provider(
    gateway: Stack, path: str, model: str, per_attempt: bool
) -> None:
    marker = f"headers-{uuid.uuid4()}"
    body: dict[str, Any] = {"model": model, "max_tokens": 8}
    if path.endswith("embeddings"):
        body = {"model": model, "input": marker}
    else:
        body["messages"] = [{"role": "user", "content": marker}]
    headers = {**CLIENT_HEADERS, **AUTH, "x-fake-latency-ms": "1", "content-type": "application/json"}
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as client:
        answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    got = _provider_request(gateway, marker)["headers"]
    leaked = {name for name in CLIENT_HEADERS if name.lower() in got}
    assert not leaked, leaked
    # Nor the client's address, nor its SDK's name.
    assert not {"x-forwarded-for", "user-agent"} & set(got), got
    # What the provider needs is there: the gateway's key, the body's type, the fault header it allows.
    credential = got.get("authorization") or got.get("x-api-key")
    key = gateway.env["FAKE_PROVIDER_API_KEY"]
    assert credential in ("Bearer " + fingerprint(key), fingerprint(key))
    assert got["content-type"].startswith("application/json") and got["x-fake-latency-ms"] == "1"


# --- echoed client strings ---------------------------------------------------------------------

HUGE = 3_900_000  # a model name just under the 4 MiB body limit
SHORT_REPLY = 1024
SHORT_LOG_LINE = 4096


def _log_line(stack: Stack, request_id: str) -> str:
    access_log_entry(stack, request_id)  # waits for Envoy's asynchronous flush
    return next(line for line in stack.log_path("envoy").read_text().splitlines() if request_id in line and line.startswith("{"))


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", {"model": "m" * HUGE, "messages": [{"role": "user", "content": "hi"}]}, 404),
        ("/v1/messages", {"model": "m" * HUGE, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}, 404),
        ("/v1/embeddings", {"model": "m" * HUGE, "input": "hi"}, 404),
        ("/v1/chat/completions", {"model": "fast", "temperature": "t" * HUGE, "messages": [{"role": "user", "content": "hi"}]}, 400),
        ("/v1/chat/completions", {"model": "fast", "messages": [{"role": "r" * HUGE, "content": "hi"}]}, 400),
        ("/v1/messages", {"model": "claude", "max_tokens": 8, "messages": [{"role": "r" * HUGE, "content": "hi"}]}, 400),
        ("/v1/embeddings", {"model": "embed", "input": "hi", "encoding_format": "e" * HUGE}, 400),
    ],
    ids=["chat-model", "messages-model", "embeddings-model", "temperature", "role", "anthropic-role", "encoding"],
)
def test_a_huge_client_string_gets_a_short_error_and_a_short_log_line(
    gateway: Stack, http: httpx.Client, path: str, body: dict[str, Any], status: int
) -> None:
    answer = http.post(path, json=body)
    assert answer.status_code == status, answer.text[:300]
    assert len(answer.content) < SHORT_REPLY, len(answer.content)
    payload = answer.json()
    assert payload["error"]["message"]  # still says what is wrong, in the client's format
    assert len(_log_line(gateway, answer.headers["x-gateway-request-id"])) < SHORT_LOG_LINE


def test_a_huge_path_and_content_type_get_short_errors(gateway: Stack, http: httpx.Client) -> None:
    long_path = "/v1/" + "p" * 30_000  # under Envoy's 60 KiB header limit
    unknown = http.post(long_path, json={"model": "fast"})
    assert unknown.status_code == 404 and len(unknown.content) < SHORT_REPLY
    assert len(_log_line(gateway, unknown.headers["x-gateway-request-id"])) < SHORT_LOG_LINE
    typed = http.post("/v1/chat/completions", content=b"{}", headers={"content-type": "text/" + "x" * 30_000})
    assert typed.status_code == 415 and len(typed.content) < SHORT_REPLY


# --- connections a client holds open -----------------------------------------------------------


def test_the_shipped_config_bounds_slow_headers_and_idle_connections_but_not_streams() -> None:
    hcm = next(iter_connection_managers(shipped_config()))
    assert hcm["request_headers_timeout"] == "10s"
    assert hcm["common_http_protocol_options"]["idle_timeout"] == "60s"
    assert hcm["stream_idle_timeout"] == "300s" and hcm["request_timeout"] == "0s"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped config with both timeouts at one second, so that the tests below run quickly."""
    config = shipped_config()
    hcm = next(iter_connection_managers(config))
    hcm["request_headers_timeout"] = "1s"
    hcm["common_http_protocol_options"]["idle_timeout"] = "1s"
    stack = start_stack(tmp_path_factory.mktemp("impatient"), config)
    try:
        yield stack
    finally:
        stack.stop()


def _read_until_closed(sock: socket.socket) -> bytes:
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def test_a_slow_header_client_is_answered_408_and_cut_off(impatient: Stack) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")
        try:
            for _ in range(100):  # one header byte at a time, never the blank line that ends them
                sock.sendall(b"X")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b'"code":"request_timeout"' in reply


def test_an_idle_connection_is_closed(impatient: Stack) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        assert _read_until_closed(sock) == b""  # Envoy closed it; recv would have timed out otherwise


def test_a_stream_outlives_both_timeouts(impatient: Stack) -> None:
    """A stream in flight is no idle connection: 12+ chunks 300 ms apart, with 1 s timeouts."""
    words = " ".join(f"word{i}" for i in range(40))
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": words}]}
    started = time.monotonic()
    with httpx.Client(base_url=f"http://127.0.0.1:{impatient.port}", timeout=60, headers=AUTH) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers={"x-fake-chunk-delay-ms": "300"}) as response:
            assert response.status_code == 200
            text = "".join(response.iter_text())
    assert time.monotonic() - started > 2  # the stream did outlast both timeouts
    assert "data: [DONE]" in text and "word39" in text


# --- the largest answers a route allows ---------------------------------------------------------


def test_2048_embeddings_inputs_get_2048_vectors(gateway: Stack) -> None:
    """OpenAI's maximum number of inputs, through the OpenAI SDK (base64 on the wire): a 17 MB answer."""
    inputs = [f"sentence number {i}, a few words long" for i in range(2048)]
    answer = openai_client(gateway.base_url).embeddings.create(model="embed", input=inputs)
    assert len(answer.data) == 2048 and [d.index for d in answer.data] == list(range(2048))
    assert len(answer.data[0].embedding) == 1536 and answer.usage.prompt_tokens > 2048


def test_an_embeddings_answer_that_could_never_fit_is_refused_before_the_call(gateway: Stack, http: httpx.Client) -> None:
    marker = f"too-large-{uuid.uuid4()}"
    body = {"model": "embed", "input": [marker] * 2048, "encoding_format": "float"}
    refused = http.post("/v1/embeddings", json=body)
    assert refused.status_code == 400, refused.text[:300]
    error = refused.json()["error"]
    assert error["code"] == "response_too_large" and "base64" in error["message"]
    assert [r for r in fake_requests(gateway) if marker in str(r.get("body"))] == []  # no provider was paid
