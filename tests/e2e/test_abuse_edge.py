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

from extproc.catalog import iter_connection_managers
from extproc.fake_provider.recording import fingerprint
from extproc.launcher import Stack

from .conftest import access_log_entry, fake_requests, shipped_config, start_stack
from tests.sdk_clients import AUTH

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
        ("/v1/chat/completions", "claude", True),  # translated to Anthropic's wire
        ("/v1/messages", "claude", True),  # an Anthropic client
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
