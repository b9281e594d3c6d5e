"""`llm-gateway prompts ...` against the prompt API.

STAND-IN: the gateway does not serve /v1/gateway/prompts until the prompt API is wired into its
endpoints (after issue 14's restructure). Until then these tests run the CLI against a tiny aiohttp
server that wraps `extproc.prompts.api` (the very handlers the gateway will wrap), with the gateway's
key check reduced to a table of two keys. The e2e tests take over once the endpoints exist.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from extproc.ops.cli import main
from extproc.ops.launcher import free_port
from extproc.prompts.api import ApiRequest, PromptApi
from extproc.prompts.model import GLOBAL
from extproc.prompts.resolver import PromptResolver
from extproc.prompts.store import MemoryPromptStore
from extproc.tenancy.auth import Identity

ROOT = Path(__file__).resolve().parents[3]
ADMIN_KEY, TENANT_KEY = "sk-admin", "sk-acme"
KEYS = {ADMIN_KEY: Identity("ops", "key-admin", admin=True), TENANT_KEY: Identity("acme", "key-acme")}


class StandIn:
    """The prompt API over HTTP on a free port, in a thread of its own."""

    def __init__(self) -> None:
        self.store = MemoryPromptStore()
        self.api = PromptApi(PromptResolver(self.store))
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in KEYS:
            return web.json_response({"error": {"message": "Invalid API key.", "code": "invalid_api_key"}}, status=401)
        status, payload = await self.api.handle(
            ApiRequest(request.method, request.path, KEYS[key], dict(request.query), await request.read())
        )
        return web.json_response(payload, status=status)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/v1/gateway/prompts{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> StandIn:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def head(self, name: str):  # noqa: ANN201 - a PromptHead or None
        return asyncio.run_coroutine_threadsafe(self.store.head(GLOBAL, name), self.loop).result(10)


@pytest.fixture()
def gateway() -> Iterator[StandIn]:
    server = StandIn().start()
    try:
        yield server
    finally:
        server.stop()


def cli(gateway: StandIn, *args: str, key: str = ADMIN_KEY) -> int:
    return main(["prompts", "--gateway", f"http://127.0.0.1:{gateway.port}", "--key", key, *args])


def test_push_list_show_label_and_diff(gateway: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = ROOT / "evals/prompts/support-reply.yaml"
    assert cli(gateway, "push", str(source), "--label", "production") == 0
    assert "support-reply: new version 1 (global; labels: production, latest)" in capsys.readouterr().out
    assert cli(gateway, "push", str(source)) == 0
    assert "support-reply: unchanged, still version 1" in capsys.readouterr().out

    edited = tmp_path / "support-reply.yaml"
    edited.write_text(source.read_text().replace("temperature: 0.2", "temperature: 0.5"))
    assert cli(gateway, "push", str(edited), "--label", "staging") == 0
    assert "new version 2" in capsys.readouterr().out

    assert cli(gateway, "list", key=TENANT_KEY) == 0
    listing = capsys.readouterr().out
    assert "support-reply" in listing and "production=1, staging=2" in listing

    assert cli(gateway, "show", "support-reply", key=TENANT_KEY) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# support-reply version 1 (global), labels: production\n")
    assert "temperature: 0.2" in shown and "{{ customer }} asks: {{ question }}" in shown

    assert cli(gateway, "diff", "support-reply", "production", "staging", key=TENANT_KEY) == 0
    diff = capsys.readouterr().out
    assert "--- support-reply@1\n+++ support-reply@2\n" in diff and "-  temperature: 0.2\n+  temperature: 0.5\n" in diff

    assert cli(gateway, "label", "support-reply", "2", "production") == 0
    assert "support-reply: production -> version 2 (was 1) (global)" in capsys.readouterr().out
    assert cli(gateway, "show", "support-reply", "--json", key=TENANT_KEY) == 0
    assert '"version": 2' in capsys.readouterr().out

    assert cli(gateway, "versions", "support-reply", key=TENANT_KEY) == 0
    versions = capsys.readouterr().out.splitlines()
    assert versions[1].split()[0] == "1" and versions[2].endswith("production, staging")


def test_a_tenant_key_cannot_push(gateway: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(gateway, "push", str(ROOT / "evals/prompts/support-reply.yaml"), key=TENANT_KEY) == 1
    assert "needs an admin key" in capsys.readouterr().err and gateway.head("support-reply") is None


def test_one_bad_file_means_nothing_is_pushed(gateway: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmessages:\n  - role: user\n    content: '{{ unclosed'\n")
    assert cli(gateway, "push", str(ROOT / "evals/prompts/support-reply.yaml"), str(bad)) == 1
    err = capsys.readouterr().err
    assert f"problem: {bad}: messages[0].content: template syntax error on line 1" in err and "nothing was pushed" in err
    assert gateway.head("support-reply") is None


def test_unknown_prompts_versions_and_labels_are_clear_errors(gateway: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(gateway, "push", str(ROOT / "evals/prompts/extract-total.yaml")) == 0
    capsys.readouterr()
    for args, words in [
        (("show", "nope"), "No prompt named 'nope'"),
        (("show", "extract-total"), "has no label 'production'"),
        (("show", "extract-total", "--version", "4"), "has no version 4"),
        (("label", "extract-total", "9", "production"), "has no version 9"),
    ]:
        assert cli(gateway, *args) == 1
        assert words in capsys.readouterr().err


def test_an_unreachable_gateway_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["prompts", "--gateway", f"http://127.0.0.1:{port}", "list"]) == 1
    assert f"problem: cannot reach the gateway at http://127.0.0.1:{port}: ConnectError" in capsys.readouterr().err
