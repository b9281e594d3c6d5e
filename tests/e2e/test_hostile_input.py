"""Malformed and adversarial requests through the real gateway (Envoy, ext_proc, fake provider).

The corpus is data, one JSON record per line in tests/data/hostile_requests.jsonl:

    name, category           what the case is, and which part of the issue it covers
    method, path             the request line
    headers                  request headers (default: content-type application/json)
    body | body_b64          the body as text, or as base64 for bytes that are not UTF-8
    transport: "raw", raw    the whole HTTP/1.1 request as text, written to a plain socket
                             (what httpx refuses to send: CR, LF or NUL in headers, bad framing)
    expect                   status, and format: "openai" / "anthropic" (the client's error JSON,
                             with optional code, param, type, message substrings), "chat" /
                             "message" / "embeddings" (a served answer), "envoy" (a protocol-level
                             reply of Envoy's, which local_reply_config cannot shape), "none" (HEAD);
                             optional headers (must be set to these values), absent_headers, and
                             forwarded (the provider received this unknown field unchanged)
    xfail                    a known bug outside the files this suite may fix: the case asserts
                             the right answer and is expected to fail (strictly) until it is fixed

Bodies, raw requests and header values may use `{{repeat:TEXT:N}}` (TEXT N times) so that
multi-megabyte and deeply nested cases stay one short line; raw requests use
`{{content-length}}` for the length of what follows the blank line. Cases that send credentials
of their own use `{{test-key}}` for the gateway key the suite's stack accepts; every other case
gets that key as `Authorization: Bearer`.

After every case the gateway must still answer a normal request, no process may have exited,
and no response may contain the provider key the launcher generated.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from extproc.ops.launcher import Stack
from tests.support.anthropic_errors import ANTHROPIC_ERROR_TYPES
from tests.support.sdk_clients import AUTH, TEST_API_KEY

from .conftest import fake_requests

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).parents[1] / "data" / "hostile_requests.jsonl"
CATEGORIES = {
    "broken_json",
    "wrong_types",
    "absurd_max_tokens",
    "huge_or_deep",
    "invalid_utf8",
    "content_type",
    "headers",
    "unknown_fields",
    "unknown_model",
    "method_or_path",
    "embeddings_input",
    "provider_refusal",
}
ANTHROPIC_TYPES = ANTHROPIC_ERROR_TYPES
_REPEAT = re.compile(r"\{\{repeat:(.*?):(\d+)\}\}", re.S)
_CONTENT_LENGTH = "{{content-length}}"
HEALTHY = {"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": "still there?"}]}


def expand(text: str) -> str:
    """`text` with every `{{repeat:TEXT:N}}` written out and `{{test-key}}` replaced by the test API key."""
    return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text).replace("{{test-key}}", TEST_API_KEY)


@dataclass
class Case:
    """One record of the corpus."""

    name: str
    category: str
    method: str
    path: str
    expect: dict[str, Any]
    headers: dict[str, str] | None = None
    body: str | None = None
    body_b64: str | None = None
    transport: str = "http"
    raw: str | None = None
    xfail: str | None = None

    def content(self) -> bytes | None:
        if self.body_b64 is not None:
            return base64.b64decode(self.body_b64)
        return expand(self.body).encode() if self.body is not None else None

    def request_headers(self) -> dict[str, str]:
        """The case's headers; the test key unless the case sends credentials of its own."""
        if self.headers is not None:
            headers = {name: expand(value) for name, value in self.headers.items()}
        else:
            headers = {"content-type": "application/json"} if self.body is not None or self.body_b64 is not None else {}
        return headers if {"authorization", "x-api-key"} & {n.lower() for n in headers} else {**AUTH, **headers}

    def raw_request(self) -> bytes:
        """The raw request, its Content-Length filled in and the test key added after the request line."""
        assert self.raw is not None
        data = expand(self.raw).encode()
        head, sep, body = data.partition(b"\r\n\r\n")
        head = head.replace(_CONTENT_LENGTH.encode(), str(len(body)).encode())
        if b"\nauthorization:" not in head.lower():
            line, crlf, rest = head.partition(b"\r\n")
            head = line + crlf + f"Authorization: {AUTH['authorization']}".encode() + (b"\r\n" + rest if crlf else b"")
        return head + sep + body


def load_corpus() -> list[Case]:
    return [Case(**json.loads(line)) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


CASES = load_corpus()


@dataclass
class Answer:
    """A response as the client saw it (None status: the connection closed without one)."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def send(stack: Stack, case: Case) -> Answer:
    if case.transport == "raw":
        return send_raw(stack.port, case.raw_request())
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=60) as client:
        try:
            response = client.request(case.method, case.path, content=case.content(), headers=case.request_headers())
        except httpx.RemoteProtocolError:
            return Answer(None)
    return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)


def send_raw(port: int, request: bytes) -> Answer:
    """Write `request` to a fresh connection; read until the gateway closes it (Connection: close)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    if not received:
        return Answer(None)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status, headers, body)


# --- what a right answer looks like ------------------------------------------------------------------


def check_answer(answer: Answer, expect: dict[str, Any]) -> None:
    assert answer.status is not None, "the gateway closed the connection without answering"
    assert answer.status == expect["status"], (answer.status, answer.body[:500])
    kind = expect["format"]
    if kind in ("openai", "anthropic", "chat", "message", "embeddings"):
        assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
        payload = answer.json()
    if kind == "openai":
        assert set(payload) == {"error"}, payload
        error = payload["error"]
        assert set(error) >= {"message", "type", "param", "code"}, payload
        assert isinstance(error["message"], str) and error["message"].strip()
        assert isinstance(error["type"], str) and error["type"]
        for key in ("code", "param", "type"):
            if key in expect:
                assert error[key] == expect[key], (key, payload)
        check_message(error["message"], expect)
    elif kind == "anthropic":
        assert payload.get("type") == "error" and set(payload) <= {"type", "error", "request_id"}, payload
        error = payload["error"]
        assert error["type"] in ANTHROPIC_TYPES, payload
        assert isinstance(error["message"], str) and error["message"].strip()
        if "type" in expect:
            assert error["type"] == expect["type"], payload
        check_message(error["message"], expect)
    elif kind == "chat":
        assert payload["object"] == "chat.completion" and payload["choices"], payload
        assert isinstance(payload["choices"][0]["message"]["content"], str)
    elif kind == "message":
        assert payload["type"] == "message" and payload["content"], payload
    elif kind == "embeddings":
        assert payload["object"] == "list" and payload["data"], str(payload)[:300]
    elif kind == "none":
        assert answer.body == b""
    else:
        assert kind == "envoy", kind  # Envoy's protocol-level replies: the status is what a client can use
    for name, value in expect.get("headers", {}).items():
        assert answer.headers.get(name) == value, (name, answer.headers)
    for name in expect.get("absent_headers", []):
        assert name not in answer.headers, (name, answer.headers)


def check_message(message: str, expect: dict[str, Any]) -> None:
    for part in expect.get("message", []):
        assert part in message, (part, message[:500])


def check_forwarded(stack: Stack, forwarded: dict[str, Any]) -> None:
    """The provider received the unknown field unchanged (the gateway forwards what it does not check)."""
    marker = forwarded["marker"]
    bodies = [r.get("body") for r in fake_requests(stack)]
    matching = [b for b in bodies if isinstance(b, dict) and marker in json.dumps(b)]
    assert matching, f"the provider never received the request marked {marker!r}"
    assert matching[-1].get(forwarded["field"]) == forwarded["value"], matching[-1]


def check_still_serving(stack: Stack) -> None:
    assert stack.poll() is None, f"{stack.poll()} exited"
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
        response = client.post("/v1/chat/completions", json=HEALTHY)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["choices"][0]["message"]["content"]


def check_no_secret(stack: Stack, answer: Answer) -> None:
    key = stack.env["FAKE_PROVIDER_API_KEY"].encode()
    assert key and key not in answer.body
    assert all(key.decode() not in f"{name}: {value}" for name, value in answer.headers.items())


# --- the tests -----------------------------------------------------------------------------------------


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_hostile_request_gets_the_right_answer_and_the_gateway_keeps_serving(gateway: Stack, case: Case) -> None:
    answer = send(gateway, case)
    try:
        check_no_secret(gateway, answer)
        check_answer(answer, case.expect)
        if "forwarded" in case.expect:
            check_forwarded(gateway, case.expect["forwarded"])
    finally:
        check_still_serving(gateway)


def test_corpus_covers_the_issue() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 60
    assert {case.category for case in CASES} == CATEGORIES
    for case in CASES:
        assert case.expect["format"] in {"openai", "anthropic", "chat", "message", "embeddings", "envoy", "none"}, case.name
        assert (case.transport == "raw") == (case.raw is not None), case.name
        anthropic_client = case.path.startswith("/v1/messages")
        if case.expect["format"] in ("openai", "anthropic"):
            assert (case.expect["format"] == "anthropic") == anthropic_client, f"{case.name}: wrong client format"
    # Both client formats, every forwarded endpoint, raw-socket cases and served cases are all present.
    assert {case.path for case in CASES} >= {
        "/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/gateway/cost-estimate", "/v1/models"
    }
    assert sum(case.transport == "raw" for case in CASES) >= 10
    assert sum(case.expect["status"] == 200 for case in CASES) >= 10
