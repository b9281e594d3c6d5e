"""A LiteLLM proxy config, imported with the real command, serves through the gateway as LiteLLM would route it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.e2e.conftest import start_stack
from tests.support.sdk_clients import AUTH

LITELLM_CONFIG = {
    "model_list": [
        {"model_name": "primary", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9000/v1",
            "api_key": "os.environ/FAKE_PROVIDER_API_KEY"}},
        {"model_name": "backup", "litellm_params": {
            "model": "anthropic/claude-haiku-4-5", "api_base": "http://127.0.0.1:9000",
            "api_key": "os.environ/FAKE_PROVIDER_API_KEY"}},
    ],
    "router_settings": {"fallbacks": [{"primary": ["backup"]}], "model_group_alias": {"chat": "primary"}},
}  # fmt: skip


def test_an_imported_litellm_config_routes_and_falls_back(tmp_path: Path) -> None:
    source = tmp_path / "litellm.yaml"
    source.write_text(yaml.safe_dump(LITELLM_CONFIG))
    out = tmp_path / "envoy.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "extproc", "import-litellm", str(source), "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (tmp_path / "run").mkdir()
    stack = start_stack(tmp_path / "run", yaml.safe_load(out.read_text()))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as http:
            body = {"model": "chat", "messages": [{"role": "user", "content": "imported"}]}
            served = http.post("/v1/chat/completions", json=body)
            assert served.status_code == 200 and served.headers["x-gateway-served-model"] == "gpt-4o-mini"
            failed_over = http.post(
                "/v1/chat/completions", json=body,
                headers={"x-fake-status": "503", "x-fake-fault-models": "gpt-4o-mini"},
            )  # fmt: skip
            assert failed_over.status_code == 200, failed_over.text
            assert failed_over.headers["x-gateway-served-model"] == "claude-haiku-4-5"
            assert failed_over.json()["object"] == "chat.completion"  # still OpenAI's format
    finally:
        stack.stop()
