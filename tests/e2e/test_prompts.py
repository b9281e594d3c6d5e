"""Versioned prompts through real Envoy: the SDKs use them by name, tenants keep to their own, a label moved
on one gateway reaches another that shares its store, and `llm-gateway prompts` drives it all.

The fake provider records what it received, so each test sees the request a prompt expanded to.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from extproc.ops.launcher import Stack
from extproc.tenancy.keys import FileKeyStore, generate_key, new_record
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack, wait_until
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, TEST_ADMIN_KEY, TEST_API_KEY, anthropic_client, openai_client

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
API = "/v1/gateway/prompts"


def unique(stem: str) -> str:
    """A prompt name of this test's own: the session gateway is shared by the whole suite."""
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def push(stack: Stack, name: str, document: dict[str, Any], labels: list[str] | None = None, **query: str) -> dict[str, Any]:
    response = httpx.post(f"http://127.0.0.1:{stack.port}{API}/{name}/versions", headers=ADMIN_AUTH, params=query,
                          json={"prompt": document, "labels": labels or []}, timeout=30)  # fmt: skip
    assert response.status_code in (200, 201), response.text
    return response.json()


def move_label(stack: Stack, name: str, label: str, version: int) -> None:
    response = httpx.put(f"http://127.0.0.1:{stack.port}{API}/{name}/labels/{label}", headers=ADMIN_AUTH,
                         json={"version": version}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text


def greeting(text: str = "Greet {{ who }} warmly.") -> dict[str, Any]:
    return {"model": "fast", "messages": [{"role": "system", "content": text}, {"role": "user", "content": "Hello from {{ who }}"}]}


def last_request_text(stack: Stack) -> str:
    return orjson.dumps(fake_requests(stack)[-1]).decode()


# --- the SDKs ------------------------------------------------------------------------------------


def test_the_anthropic_sdk_uses_a_prompt_on_messages(gateway: Stack) -> None:
    name = unique("support")
    push(gateway, name, greeting(), ["production"])
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    raw = client.messages.with_raw_response.create(
        model="claude", max_tokens=50, messages=[], extra_body={"prompt": {"name": name, "variables": {"who": "Ann"}}}
    )
    message = raw.parse()
    assert message.type == "message" and message.content[0].text == "Fake reply to: Hello from Ann"  # type: ignore[union-attr]
    assert raw.headers["x-gateway-prompt"] == name and raw.headers["x-gateway-prompt-version"] == "1"
    received = last_request_text(gateway)
    assert "Greet Ann warmly." in received and "Hello from Ann" in received
    line = access_log_entry(gateway, raw.headers["x-gateway-request-id"])
    assert (line["prompt"], line["prompt_version"]) == (name, 1)


def test_the_openai_sdk_uses_a_prompt_as_a_preamble_to_its_messages(gateway: Stack) -> None:
    name = unique("preamble")
    push(gateway, name, {"messages": [{"role": "system", "content": "Answer as {{ persona }}."}]}, ["production"])
    client = openai_client(gateway.base_url)
    raw = client.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "What is 2+2?"}],
        extra_body={"prompt": {"name": name, "variables": {"persona": "a pirate"}}},
    )  # fmt: skip
    assert raw.parse().choices[0].message.content == "Fake reply to: What is 2+2?"
    assert raw.headers["x-gateway-prompt-version"] == "1" and raw.headers["x-gateway-served-model"] == "gpt-4o"
    assert '"Answer as a pirate."' in last_request_text(gateway)


def test_bad_variables_and_unknown_prompts_are_errors_each_sdk_raises(gateway: Stack) -> None:
    name = unique("strict")
    push(gateway, name, greeting(), ["production"])
    client = openai_client(gateway.base_url)
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(model="fast", messages=[], extra_body={"prompt": {"name": name}})
    assert missing.value.code == "prompt_variables_invalid" and "'who'" in missing.value.message
    with pytest.raises(openai.BadRequestError) as extra:
        client.chat.completions.create(model="fast", messages=[], extra_body={"prompt": {"name": name, "variables": {"who": "A", "x": 1}}})
    assert "'x'" in extra.value.message
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="fast", messages=[], extra_body={"prompt": {"name": name, "label": "canary", "variables": {"who": "A"}}})
    assert unknown.value.code == "prompt_label_not_found"
    claude = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    with pytest.raises(anthropic.NotFoundError) as anthropic_unknown:
        claude.messages.create(model="claude", max_tokens=10, messages=[], extra_body={"prompt": {"name": unique("none")}})
    assert "No prompt named" in str(anthropic_unknown.value)
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="claude", max_tokens=10, messages=[], extra_body={"prompt": {"name": name, "version": 9, "label": "x"}})
    # The gateway goes on serving.
    assert client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "still there?"}]).choices


def test_a_label_move_changes_the_next_expansion_on_both_service_processes(gateway: Stack) -> None:
    """The session gateway's two service processes share the SQLite store: the move reaches both within
    a second (their label cache), without a restart."""
    name = unique("moving")
    push(gateway, name, greeting("Version one for {{ who }}."), ["production"])
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", headers=AUTH, timeout=30) as http:

        def versions_served(count: int) -> set[str]:
            body = {"prompt": {"name": name, "variables": {"who": "A"}}, "messages": []}
            return {http.post("/v1/chat/completions", json=body).headers["x-gateway-prompt-version"] for _ in range(count)}

        assert versions_served(6) == {"1"}  # both processes now hold the label for a second
        second = push(gateway, name, greeting("Version two for {{ who }}."))
        move_label(gateway, name, "production", second["version"])
        wait_until(lambda: versions_served(6) == {"2"}, timeout=15)
    assert "Version two for A." in last_request_text(gateway)


# --- tenants -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rival_key(gateway: Stack) -> str:
    """A key of a second tenant, added to the running gateway's key file (the service rereads it)."""
    key = generate_key()
    assert gateway.options.keys_file is not None
    asyncio.run(FileKeyStore(gateway.options.keys_file).add(new_record(key, "rival", "tests")))
    return key


def test_a_tenant_cannot_read_or_use_another_tenants_prompt(gateway: Stack, rival_key: str) -> None:
    name = unique("own")
    pushed = push(gateway, name, greeting(), ["production"], tenant="test")
    assert pushed["tenant"] == "test"
    rival = {"authorization": f"Bearer {rival_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as http:
        assert http.get(f"{API}/{name}", headers=AUTH).status_code == 200
        assert http.get(f"{API}/{name}", headers=rival).json()["error"]["code"] == "prompt_not_found"
        assert http.get(f"{API}/{name}", headers=rival, params={"tenant": "test"}).status_code == 403
        assert name not in {item["name"] for item in http.get(API, headers=rival).json()["data"]}
        used = http.post("/v1/chat/completions", headers=rival, json={"prompt": {"name": name, "variables": {"who": "x"}}, "messages": []})
        assert used.status_code == 404 and used.json()["error"]["code"] == "prompt_not_found"
        assert http.post("/v1/chat/completions", headers=AUTH,
                         json={"prompt": {"name": name, "variables": {"who": "x"}}, "messages": []}).status_code == 200  # fmt: skip


def test_a_global_prompt_is_read_by_every_tenant_and_written_by_admins_only(gateway: Stack, rival_key: str) -> None:
    name = unique("shared")
    push(gateway, name, greeting(), ["production"])
    rival = {"authorization": f"Bearer {rival_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as http:
        for headers in (AUTH, rival):
            got = http.get(f"{API}/{name}", headers=headers)
            assert got.status_code == 200 and got.json()["tenant"] is None
        for headers in (AUTH, rival):
            refused = http.post(f"{API}/{name}/versions", headers=headers, json={"prompt": greeting("Taken over {{ who }}.")})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_key_required"
            moved = http.put(f"{API}/{name}/labels/production", headers=headers, json={"version": 1})
            assert moved.status_code == 403
        assert http.get(f"{API}/{name}/versions", headers=AUTH).json()["latest"] == 1  # nothing was written


# --- the CLI -------------------------------------------------------------------------------------


def prompts_cli(stack: Stack, *args: str, key: str = TEST_ADMIN_KEY) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "extproc", "prompts", "--gateway", f"http://127.0.0.1:{stack.port}", "--key", key, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ})


def test_the_cli_pushes_lists_shows_labels_and_diffs_through_envoy(gateway: Stack, tmp_path: Path) -> None:
    name = unique("cli")
    source = tmp_path / f"{name}.yaml"
    source.write_text(f"name: {name}\nmodel: fast\nmessages:\n  - role: user\n    content: 'Say hi to {{{{ who }}}}'\n")
    first = prompts_cli(gateway, "push", str(source), "--label", "staging")
    assert first.returncode == 0, first.stderr
    assert f"{name}: new version 1 (global; labels: staging, latest)" in first.stdout
    assert f"{name}: unchanged, still version 1" in prompts_cli(gateway, "push", str(source)).stdout
    source.write_text(source.read_text().replace("Say hi", "Say hello"))
    assert "new version 2" in prompts_cli(gateway, "push", str(source)).stdout
    labelled = prompts_cli(gateway, "label", name, "2", "production")
    assert labelled.returncode == 0 and f"{name}: production -> version 2" in labelled.stdout
    listed = prompts_cli(gateway, "list")
    assert any(line.split()[:3] == [name, "global", "2"] and "production=2" in line for line in listed.stdout.splitlines())
    shown = prompts_cli(gateway, "show", name, "--label", "staging")
    assert shown.returncode == 0 and "Say hi to {{ who }}" in shown.stdout and f"# {name} version 1" in shown.stdout
    diff = prompts_cli(gateway, "diff", name, "staging", "production")
    assert diff.returncode == 0 and "-  content: Say hi to {{ who }}" in diff.stdout and "+  content: Say hello to {{ who }}" in diff.stdout


def test_the_cli_refuses_a_bad_file_and_a_tenant_key_pushes_nothing(gateway: Stack, tmp_path: Path) -> None:
    name = unique("cli-bad")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(f"name: {name}\nmessages: [{{role: user, content: hi}}]\n")
    bad.write_text(f"name: {name}-2\nmessages: [{{role: bot, content: '{{{{ x'}}]\n")
    refused = prompts_cli(gateway, "push", str(good), str(bad))
    assert refused.returncode == 1 and "nothing was pushed" in refused.stderr
    tenant = prompts_cli(gateway, "push", str(good), key=TEST_API_KEY)
    assert tenant.returncode == 1 and "admin_key_required" in tenant.stderr
    assert name not in prompts_cli(gateway, "list").stdout


# --- replicas on a shared store --------------------------------------------------------------------


@pytest.fixture(scope="module", params=["redis", "postgres"])
def two_gateways(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Stack]]:
    """Two gateways (each its own Envoy and service process) whose prompts live in one Redis or PostgreSQL."""
    tmp = tmp_path_factory.mktemp(f"prompts-{request.param}")
    server = redis_server(tmp) if request.param == "redis" else postgres_server(tmp)
    with server as address:
        url = address if isinstance(address, str) else address[0]
        config = shipped_config()
        tenancy_metadata(config)["prompts"] = {"store": request.param, f"{request.param}_url": url}
        first = start_stack(tmp / "a", config, workers=1)
        try:
            second = start_stack(tmp / "b", config, workers=1)
            try:
                yield first, second
            finally:
                second.stop()
        finally:
            first.stop()


def test_a_label_moved_on_one_gateway_reaches_the_other(two_gateways: tuple[Stack, Stack]) -> None:
    first, second = two_gateways
    name = unique("replicated")
    push(first, name, greeting("One, {{ who }}."), ["production"])
    body = {"prompt": {"name": name, "variables": {"who": "A"}}, "messages": []}

    def served_by(stack: Stack) -> str:
        response = httpx.post(f"http://127.0.0.1:{stack.port}/v1/chat/completions", headers=AUTH, json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.headers["x-gateway-prompt-version"]

    assert served_by(second) == "1"  # pushed through the first, used through the second
    pushed = push(first, name, greeting("Two, {{ who }}."))
    move_label(first, name, "production", pushed["version"])
    assert served_by(first) == "2"  # the gateway that moved it sees it at once
    wait_until(lambda: served_by(second) == "2", timeout=15)  # the other within its label cache's second
    assert "Two, A." in last_request_text(second)
