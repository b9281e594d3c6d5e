"""The playground through real Envoy, the service and the fake provider: its static files (headers,
no key, no way out of their folder), the recent-requests list (one tenant's only), the headers the
page shows, and the page itself in headless Chromium (tests/support/browser.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from extproc.ops.launcher import Stack
from extproc.playground.files import CONTENT_SECURITY_POLICY
from tests.support.browser import BrowserPage
from tests.support.sdk_clients import AUTH, TEST_API_KEY

from .conftest import start_stack

CHAT = "/v1/chat/completions"
WRONG_KEY = "sk-gw-wrong-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped envoy.yaml, one service process (so one ring buffer holds every request)."""
    running = start_stack(tmp_path_factory.mktemp("playground"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def other_tenant_key(stack: Stack) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "extproc", "keys", "--config", str(stack.config_path), "--keys-file",
         str(stack.run_dir / "keys.json"), "create", "--tenant", "globex"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture()
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as client:
        yield client


def _raw_get(stack: Stack, target: str) -> tuple[int, bytes]:
    """GET `target` exactly as written (no client normalises its dots or escapes)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


# --- static files ------------------------------------------------------------------


def test_the_root_sends_a_browser_to_the_playground(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.is_redirect and response.headers["location"].endswith("/playground/")


def test_the_page_and_its_scripts_come_without_a_key_under_their_csp(http: httpx.Client) -> None:
    page = http.get("/playground/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script" in page.text and "<script>" not in page.text  # scripts by src only: no inline script
    script = http.get("/playground/playground.js")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # Revalidated by its ETag: the browser's copy is kept when unchanged.
    again = http.get("/playground/playground.js", headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "target",
    [
        "/playground/../pyproject.toml",
        "/playground/../../../../etc/passwd",
        "/playground/%2e%2e/files.py",
        "/playground/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/playground/..%5c..%5cpyproject.toml",
        "/playground/%2fetc%2fpasswd",
        "/playground//etc/passwd",
        "/playground/static/../__init__.py",
        "/playground/files.py%00.js",
    ],
)
def test_the_static_files_cannot_read_any_other_file(stack: Stack, target: str) -> None:
    status, answer = _raw_get(stack, target)
    assert status in (400, 404), answer[:300]
    assert b"root:" not in answer and b"[project]" not in answer and b"import" not in answer


# --- recent requests and headers ------------------------------------------------------


def test_the_recent_list_needs_a_key_and_shows_only_the_keys_tenant(http: httpx.Client, other_tenant_key: str) -> None:
    assert http.get("/v1/gateway/requests").status_code == 401
    mine = http.post(CHAT, headers=AUTH, json={"model": "fast", "messages": [{"role": "user", "content": "mine"}]})
    assert mine.status_code == 200
    theirs = http.post(CHAT, headers={"authorization": f"Bearer {other_tenant_key}"},
                       json={"model": "fast", "messages": [{"role": "user", "content": "theirs"}]})  # fmt: skip
    assert theirs.status_code == 200
    listed_mine = http.get("/v1/gateway/requests", headers=AUTH).json()["data"]
    listed_theirs = http.get("/v1/gateway/requests", headers={"authorization": f"Bearer {other_tenant_key}"}).json()["data"]
    mine_id, theirs_id = mine.headers["x-gateway-request-id"], theirs.headers["x-gateway-request-id"]
    assert mine_id in {e["request_id"] for e in listed_mine} and theirs_id not in {e["request_id"] for e in listed_mine}
    assert [e["request_id"] for e in listed_theirs] == [theirs_id]
    entry = next(e for e in listed_mine if e["request_id"] == mine_id)
    assert entry["status"] == 200 and entry["model"] == "fast" and entry["served_model"]
    assert entry["cost_usd"] == pytest.approx(float(mine.headers["x-gateway-cost-usd"]))
    assert entry["prompt_tokens"] == int(mine.headers["x-gateway-prompt-tokens"])
    assert "mine" not in str(listed_mine)  # figures only, never the text


def test_redactions_are_counted_by_entity_on_the_answer(http: httpx.Client) -> None:
    text = "Mail ann@example.com or bob@example.org, or call +1 415 555 0100."
    answer = http.post(CHAT, headers=AUTH, json={"model": "fast", "messages": [{"role": "user", "content": text}]})
    assert answer.status_code == 200
    counts = dict(part.split("=") for part in answer.headers["x-gateway-redactions"].split(","))
    assert counts["EMAIL_ADDRESS"] == "2" and counts["PHONE_NUMBER"] == "1"
    assert "example" not in answer.headers["x-gateway-redactions"]


# --- the page in a browser -------------------------------------------------------------



def test_the_page_streams_an_answer_with_its_decisions_and_lists_it(stack: Stack, browser: BrowserPage) -> None:
    page = browser.page
    response = page.goto(f"http://127.0.0.1:{stack.port}/")  # the root's redirect, then the page
    assert response is not None and response.status == 200 and page.url.endswith("/playground/")
    browser.enter_key(TEST_API_KEY)
    page.wait_for_selector("#model option[value=fast]", state="attached")
    page.select_option("#model", "fast")
    page.fill("#user", "Write to me at ann@example.com, please.")
    page.click("#send")
    page.wait_for_selector(".turn.assistant:not(.streaming)")
    assert page.locator(".turn.assistant .text").text_content()  # the fake provider's streamed words
    decisions = browser.decisions()
    request_id = decisions["Request id"]
    assert request_id and decisions["Served model"] and decisions["Provider"] == "openai"
    assert decisions["Redactions"] == "EMAIL_ADDRESS=1"
    assert int(decisions["Prompt tokens"]) > 0 and int(decisions["Completion tokens"]) > 0
    assert float(decisions["Cost (USD)"]) > 0
    browser.screenshot("answered")

    page.click("#tab-recent")
    expect(page.locator("#recent-rows tr").first).to_contain_text(request_id[:8])
    assert "Tenant" in page.inner_text("#spend")
    browser.screenshot("recent")
    assert browser.console_errors == []
    assert all(TEST_API_KEY not in url for url in browser.requested_urls)


def test_the_page_shows_the_gateways_401_for_a_wrong_key(stack: Stack, browser: BrowserPage) -> None:
    page = browser.page
    page.goto(f"http://127.0.0.1:{stack.port}/playground/")
    browser.enter_key(WRONG_KEY)
    page.fill("#user", "Hello?")
    page.click("#send")
    error = page.locator("#chat-error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("401 Unauthorized: ")
    assert len(error.inner_text()) > len("401 Unauthorized: ")  # the gateway's own message
    browser.screenshot("wrong-key")
    assert browser.console_errors == []
