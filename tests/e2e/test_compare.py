"""The same LiteLLM config served by the LiteLLM proxy and by the gateway, compared with `llm-gateway compare`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.ops.compare import default_probes, report, run
from extproc.ops.launcher import Stack
from extproc.ops.litellm_import import import_litellm
from extproc.ops.litellm_proxy import LiteLLMProxy, litellm_proxy
from tests.e2e.conftest import start_stack
from tests.support.sdk_clients import AUTH, TEST_API_KEY


def _litellm_config(fake_port: int) -> dict[str, Any]:
    params = {"api_key": "os.environ/FAKE_PROVIDER_API_KEY"}
    return {
        "model_list": [
            {"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"http://127.0.0.1:{fake_port}/v1", **params}},
            {"model_name": "embed", "litellm_params": {"model": "openai/text-embedding-3-small", "api_base": f"http://127.0.0.1:{fake_port}/v1", **params},
             "model_info": {"mode": "embedding"}},
        ]
    }  # fmt: skip


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiteLLMProxy, Stack]]:
    """The gateway (with its fake provider) on the imported config, and LiteLLM on the original."""
    tmp = tmp_path_factory.mktemp("compare")
    # The launcher moves fake-provider endpoints to the port it picks; 9000 is rewritten.
    imported = import_litellm(_litellm_config(9000), yaml.safe_load(DEFAULT_CONFIG.read_text()))
    stack = start_stack(tmp, imported.config)
    try:
        assert stack.fake_provider_port is not None
        config = _litellm_config(stack.fake_provider_port)
        with litellm_proxy(config, tmp, {"FAKE_PROVIDER_API_KEY": stack.env["FAKE_PROVIDER_API_KEY"]}) as proxy:
            yield proxy, stack
    finally:
        stack.stop()


def test_both_serve_the_same_config_and_the_comparison_shows_where_they_differ(both: tuple[LiteLLMProxy, Stack]) -> None:
    proxy, stack = both
    probes = default_probes("chat", "embed")
    with httpx.Client(base_url=proxy.url, timeout=120) as litellm, httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=120, headers=AUTH) as gateway:
        rows = run(litellm, gateway, probes, proxy.key, None)
    by_name = {row.probe.name: row for row in rows}
    for name in ("chat", "system + multi-turn", "stream with usage", "tools", "json mode", "embeddings"):
        row = by_name[name]
        assert (row.litellm.status, row.gateway.status) == (200, 200), (name, row)
    # Same fake provider, same model, same prompt: the same usage and the same price from the same cost map.
    chat = by_name["chat"]
    assert (chat.litellm.prompt_tokens, chat.litellm.completion_tokens) == (chat.gateway.prompt_tokens, chat.gateway.completion_tokens)
    assert chat.gateway.cost_usd == pytest.approx(chat.litellm.cost_usd, rel=1e-6)
    stream = by_name["stream with usage"]  # no header: both put the cost in the usage chunk
    assert stream.gateway.cost_usd == pytest.approx(stream.litellm.cost_usd, rel=1e-6)
    for name in ("unknown model", "broken json"):
        row = by_name[name]
        assert row.litellm.status // 100 == 4 and row.gateway.status // 100 == 4, (name, row)
    # Headers of note: which model served the gateway's answer; LiteLLM's own headers on its side.
    assert chat.gateway.headers["x-gateway-served-model"] == "gpt-4o-mini"
    assert any(name.startswith("x-litellm-") for name in chat.litellm.headers)
    assert not {"x-gateway-request-id", "x-litellm-call-id"} & (chat.gateway.headers.keys() | chat.litellm.headers.keys())
    table = report(rows)
    assert "| chat | 200 / 200 |" in table and table.splitlines()[-1].startswith("Summary: 8 requests")
    assert "x-gateway-served-model: gpt-4o-mini" in table


def test_the_compare_command_prints_the_table(both: tuple[LiteLLMProxy, Stack]) -> None:
    proxy, stack = both
    done = subprocess.run(
        [sys.executable, "-m", "extproc", "compare", "--litellm", proxy.url, "--litellm-key", proxy.key,
         "--gateway", f"http://127.0.0.1:{stack.port}", "--gateway-key", TEST_API_KEY, "--model", "chat"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| stream with usage | 200 / 200 |" in done.stdout and "Summary: 7 requests" in done.stdout
    assert proxy.key not in done.stdout and TEST_API_KEY not in done.stdout
