"""A unit test of the playground page in a real browser (headless Debian Chromium).

The page's files are served through `extproc.playground.files` by a tiny local HTTP server,
which stands in for the gateway's static route only; the API calls the page makes are
answered from recorded, gateway-shaped responses (headers and bodies as the gateway sends
them). No Envoy and no service here: part 2 of issue 21 runs the same checks through real
Envoy. Screenshots go to the test's tmp dir (`screenshots/`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from extproc.playground.files import CONTENT_SECURITY_POLICY, StaticFiles
from tests.support.browser import PHONE, BrowserPage

GOOD_KEY = "sk-playground-good-0123456789"
WRONG_KEY = "sk-playground-wrong-9876543210"
ANSWER = ["Paris ", "is the capital ", "of France."]
# Recorded from the gateway's shapes: extproc/stages/{accounting,cache,limits}.py, attempts.py,
# processor.py (x_gateway in the usage chunk); route reason, task and complexity as issue 15 sets them.
STREAM_HEADERS = {
    "content-type": "text/event-stream",
    "x-gateway-request-id": "7d0c6f2e-4d8a-4f0e-9c55-2b1f1e0a9c11",
    "x-gateway-served-model": "gpt-4o-mini-2024-07-18",
    "x-gateway-provider": "openai",
    "x-gateway-route-reason": "task question_answering, complexity low: fast",
    "x-gateway-task": "question_answering",
    "x-gateway-complexity": "low",
    "x-gateway-attempt": "2",
    "x-gateway-attempts": "openai/gpt-4o-mini;status=503;ms=12, openai/gpt-4o-mini;status=200;ms=80",
    "x-gateway-cache": "miss",
    "x-gateway-cache-explore": "0.912",
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "59",
    "x-ratelimit-reset-requests": "1s",
}
USAGE_CHUNK = {
    "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23, "prompt_tokens_details": {"cached_tokens": 4}},
    "x_gateway": {"served_model": "gpt-4o-mini-2024-07-18", "provider": "openai", "cost_usd": 0.0000075,
                  "usage_estimated": False},
}  # fmt: skip
MODELS = {"object": "list", "data": [
    {"id": "fast", "object": "model", "created": 1700000000, "owned_by": "openai"},
    {"id": "smart", "object": "model", "created": 1700000000, "owned_by": "anthropic"},
]}  # fmt: skip
LIMITS = {
    "object": "gateway.limits", "tenant": "test", "key_id": "k1",
    "limits": {"per_tenant": {"requests_per_minute": 60, "tokens_per_minute": None},
               "per_key": {"requests_per_minute": None, "tokens_per_minute": None}, "per_model": {}},
    "budget": {"usd_per_day": 1.0, "usd_per_month": None},
    "spend_usd": {"day": 0.0123, "month": 0.5}, "reserved_usd": 0.0,
}  # fmt: skip
RECENT = {"object": "list", "data": [
    {"request_id": "7d0c6f2e", "time": "2026-11-01T12:00:02.000Z", "model": "auto", "served_model": "gpt-4o-mini",
     "status": 200, "prompt_tokens": 14, "completion_tokens": 9, "cost_usd": 0.0000075, "cache": "miss",
     "route_reason": "task question_answering, complexity low: fast", "latency_ms": 412.4},
    {"request_id": "0a1b2c3d", "time": "2026-11-01T11:59:00.000Z", "model": "smart", "served_model": None,
     "status": 429, "prompt_tokens": None, "completion_tokens": None, "cost_usd": None, "cache": "bypass",
     "route_reason": None, "latency_ms": 3.0},
]}  # fmt: skip
INVALID_KEY = {"error": {"message": "Invalid API key.", "type": "authentication_error", "param": None,
                         "code": "invalid_api_key"}}  # fmt: skip


@dataclass
class FakeGateway:
    """What the stand-in saw, and the switch that lets a held stream finish."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    release_stream: threading.Event = field(default_factory=threading.Event)


def _handler(gateway: FakeGateway, files: StaticFiles) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            gateway.requests.append({"method": method, "path": self.path, "headers": headers, "body": body})
            if files.handles(self.path):
                static = files.answer(method, self.path, headers)
                return self._send(static.status, static.headers, static.body)
            if headers.get("authorization") != f"Bearer {GOOD_KEY}":
                return self._json(401, INVALID_KEY)
            if (method, self.path) == ("GET", "/v1/models"):
                return self._json(200, MODELS)
            if (method, self.path) == ("GET", "/v1/gateway/limits"):
                return self._json(200, LIMITS)
            if (method, self.path) == ("GET", "/v1/gateway/requests"):
                return self._json(200, RECENT)
            if (method, self.path) == ("POST", "/v1/chat/completions"):
                return self._stream()
            return self._json(404, {"error": {"message": f"Unknown path {self.path}.", "type": "not_found_error",
                                              "param": None, "code": "unknown_path"}})  # fmt: skip

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self._send(status, {"content-type": "application/json", "content-length": str(len(body)),
                                "x-gateway-request-id": "req-1"}, body)  # fmt: skip

        def _stream(self) -> None:
            # HTTP/1.0 without a length: the stream ends when the connection closes.
            self.send_response(200)
            for name, value in STREAM_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            first, *rest = ANSWER
            self._event(_delta(first))
            # Held until the test has seen the first piece on the page: proof it renders as it streams.
            gateway.release_stream.wait(timeout=30)
            for piece in rest:
                self._event(_delta(piece))
            self._event(USAGE_CHUNK)
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

    return Handler


def _delta(text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """The page's files through files.py, and recorded answers for its API calls, on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeGateway(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(fake, StaticFiles("/playground/"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release_stream.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)



def test_page_loads_under_its_csp_with_no_console_error(gateway: FakeGateway, browser: BrowserPage) -> None:
    response = browser.page.goto(gateway.url + "/playground/")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert browser.page.title() == "llm-gateway playground"
    # The script ran (it is external, so the CSP let it): the tabs answer clicks.
    browser.page.click("#tab-recent")
    assert browser.page.locator("#view-recent").is_visible()
    assert "Enter your API key first." in browser.page.inner_text("#recent-error")
    browser.page.click("#tab-chat")
    assert browser.page.locator("#view-chat").is_visible()
    browser.screenshot("loaded")
    assert browser.console_errors == []


def test_page_streams_the_answer_and_shows_the_decisions(gateway: FakeGateway, browser: BrowserPage) -> None:
    page = browser.page
    page.goto(gateway.url + "/playground/")
    browser.enter_key(GOOD_KEY)
    page.wait_for_selector("#model option[value=fast]", state="attached")
    assert page.locator("#model option").all_inner_texts() == ["auto", "fast", "smart"]
    # The prompt API does not answer 200 here (404), so its picker stays hidden.
    assert page.locator("#prompt-field").is_hidden()
    page.select_option("#model", "smart")
    page.fill("#system", "Answer in one sentence.")
    page.fill("#user", "What is the capital of France?")
    page.click("#send")

    answer = page.locator(".turn.assistant .text")
    expect(answer).to_have_text("Paris ")
    assert answer.text_content() == "Paris "  # the first piece is on the page before the rest was sent
    assert browser.decisions()["Served model"] == "gpt-4o-mini-2024-07-18"  # headers came first
    gateway.release_stream.set()
    page.wait_for_selector(".turn.assistant:not(.streaming)")
    assert answer.text_content() == "".join(ANSWER)

    decisions = browser.decisions()
    assert decisions["Request id"] == STREAM_HEADERS["x-gateway-request-id"]
    assert decisions["Provider"] == "openai"
    assert decisions["Route reason"] == STREAM_HEADERS["x-gateway-route-reason"]
    assert decisions["Task"] == "question_answering" and decisions["Complexity"] == "low"
    assert decisions["Answered by attempt"] == "2"
    assert decisions["Attempts"].splitlines() == ["openai/gpt-4o-mini: 503 in 12 ms", "openai/gpt-4o-mini: 200 in 80 ms"]
    assert decisions["Cache"] == "miss" and decisions["Near-miss similarity"] == "0.912"
    assert decisions["Rate limit (requests)"] == "59 of 60 left, full in 1s"
    # From the stream's usage chunk.
    assert (decisions["Prompt tokens"], decisions["Completion tokens"], decisions["Cached tokens"]) == ("14", "9", "4")
    assert decisions["Total tokens"] == "23" and decisions["Cost (USD)"] == "0.0000075"
    assert "Trace id" not in decisions and "Redactions" not in decisions  # absent headers are not shown

    sent = next(r for r in gateway.requests if r["path"] == "/v1/chat/completions")
    body = json.loads(sent["body"])
    assert body["model"] == "smart" and body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Answer in one sentence."},
                                {"role": "user", "content": "What is the capital of France?"}]  # fmt: skip
    assert sent["headers"]["authorization"] == f"Bearer {GOOD_KEY}"

    browser.screenshot("answered-desktop")
    browser.set_viewport(PHONE)
    browser.screenshot("answered-phone")
    assert page.evaluate("sessionStorage.length") == 1 and page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert all(GOOD_KEY not in url for url in browser.requested_urls)
    assert all(GOOD_KEY not in r["path"] for r in gateway.requests)
    assert browser.console_errors == []


def test_page_keeps_the_conversation_for_the_next_turn(gateway: FakeGateway, browser: BrowserPage) -> None:
    page = browser.page
    gateway.release_stream.set()
    page.goto(gateway.url + "/playground/")
    browser.enter_key(GOOD_KEY)
    for question in ("First?", "Second?"):
        page.fill("#user", question)
        page.click("#send")
        expect(page.locator("#send")).to_be_enabled()
    second = json.loads([r for r in gateway.requests if r["path"] == "/v1/chat/completions"][1]["body"])
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert second["messages"][1]["content"] == "".join(ANSWER)
    assert browser.console_errors == []


def test_page_shows_the_gateways_401_message(gateway: FakeGateway, browser: BrowserPage) -> None:
    page = browser.page
    page.goto(gateway.url + "/playground/")
    browser.enter_key(WRONG_KEY)
    expect(page.locator("#key-status")).to_contain_text("Invalid API key.")
    page.fill("#user", "Hello?")
    page.click("#send")
    error = page.locator("#chat-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "401 Unauthorized: Invalid API key."
    assert page.locator(".turn").count() == 0  # the failed turn is not left in the conversation
    assert page.input_value("#user") == "Hello?"
    browser.screenshot("wrong-key")
    assert all(WRONG_KEY not in url for url in browser.requested_urls)
    assert browser.console_errors == []


def test_page_lists_recent_requests_and_spend_against_budget(gateway: FakeGateway, browser: BrowserPage) -> None:
    page = browser.page
    page.goto(gateway.url + "/playground/")
    browser.enter_key(GOOD_KEY)
    page.click("#tab-recent")
    page.wait_for_selector("#recent-rows tr")
    rows = page.locator("#recent-rows tr")
    assert rows.count() == 2
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[1:] == ["7d0c6f2e", "auto", "gpt-4o-mini", "200", "14 / 9", "0.0000075", "miss",
                         "task question_answering, complexity low: fast", "412"]  # fmt: skip
    assert rows.nth(1).locator("td").all_inner_texts()[4:7] == ["429", "– / –", "–"]
    spend = page.inner_text("#spend")
    assert "0.0123 of 1 USD" in spend and "0.5 USD (no budget)" in spend
    assert page.locator("#spend meter").count() == 1
    browser.screenshot("recent-desktop")
    browser.set_viewport(PHONE)
    browser.screenshot("recent-phone")
    assert browser.console_errors == []
