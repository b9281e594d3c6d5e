"""The newcomer's path, as the README and docs/configuration.md tell it: start, call, tune, compare.

One scripted run of the commands a new user types: the recipe's fake provider
and LiteLLM proxy, `import-litellm --like-for-like`, `up` (its banner's key),
a call with the OpenAI SDK, a tune of envoy.yaml applied with `llm-gateway
reload` (and a typo refused), and `llm-gateway compare`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.ops.launcher import Child, free_port, terminate, wait_http
from extproc.ops.litellm_proxy import litellm_proxy
from tests.support.sdk_clients import openai_client

pytestmark = pytest.mark.e2e

FAKE_KEY = "fake-local-key"


def _cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "extproc", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300, check=False, env=env)  # fmt: skip


def test_start_call_tune_compare(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FAKE_PROVIDER_API_KEY"} | {
        "FAKE_PROVIDER_API_KEY": FAKE_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip
    # 1. The fake provider (recipe, terminal 1).
    fake_port = free_port()
    log = open(tmp_path / "fake.log", "wb")  # noqa: SIM115 - closed by terminate()
    fake = Child("fake-provider", subprocess.Popen(
        [sys.executable, "-m", "extproc", "fake-provider", "--port", str(fake_port), "--api-key", FAKE_KEY],
        stdout=log, stderr=subprocess.STDOUT, env=env), tmp_path / "fake.log", log)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{fake_port}/_fake/health", fake)
        # 2. The LiteLLM proxy on the recipe's config (terminal 2).
        litellm_config = {
            "model_list": [{"model_name": "chat", "litellm_params": {
                "model": "openai/gpt-4o-mini", "api_base": f"http://127.0.0.1:{fake_port}/v1",
                "api_key": "os.environ/FAKE_PROVIDER_API_KEY"}}],
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        }  # fmt: skip
        (tmp_path / "litellm.yaml").write_text(yaml.safe_dump(litellm_config))
        with litellm_proxy(litellm_config, tmp_path, {"FAKE_PROVIDER_API_KEY": FAKE_KEY}) as proxy:
            # 3. Import like for like (terminal 3); the notes say what was left out.
            imported = _cli(tmp_path, "import-litellm", "litellm.yaml", "--like-for-like", "-o", "envoy.yaml", env=env)
            assert imported.returncode == 0, imported.stderr
            assert "like for like: left out personal data in prompts is masked" in imported.stderr
            assert "like for like: gateway API keys are kept" in imported.stderr
            _start_call_tune_compare(tmp_path, env, proxy.url, proxy.key)
    finally:
        terminate(fake)


def _start_call_tune_compare(folder: Path, env: dict[str, str], litellm_url: str, litellm_key: str) -> None:
    port = free_port()
    tmpdir = Path(tempfile.mkdtemp(prefix="c16-"))  # short: Unix socket paths are at most 107 bytes
    up = subprocess.Popen(
        [sys.executable, "-m", "extproc", "up", "--config", "envoy.yaml", "--no-fake-provider", "--port", str(port),
         "--admin-port", str(free_port()), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env | {"TMPDIR": str(tmpdir)}, cwd=folder,
    )  # fmt: skip
    assert up.stdout is not None
    banner = []
    for line in up.stdout:
        banner.append(line)
        if "Ctrl-C stops everything" in line or up.poll() is not None:
            break
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(up.stdout or []), daemon=True)
    reader.start()
    try:
        text = "".join(banner)
        assert "llm-gateway is up" in text and "fake provider" not in text, text
        key = re.search(r"API key\s+(sk-gw-\S+)", text)
        assert key is not None, text
        # Call, as the README's Python does.
        client = openai_client(f"http://127.0.0.1:{port}/v1", key.group(1))
        reply = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "Hello!"}])
        assert reply.parse().choices[0].message.content == "Fake reply to: Hello!"
        assert reply.headers["x-gateway-served-model"] == "gpt-4o-mini" and float(reply.headers["x-gateway-cost-usd"]) > 0
        # Tune: an alias, checked, then applied without a restart.
        config = yaml.safe_load((folder / "envoy.yaml").read_text())
        meta = gateway_section(next(r for r in iter_routes(config) if (gateway_section(r) or {}).get("model") == "chat"))
        assert meta is not None
        meta["aliases"] = ["quick"]
        (folder / "envoy.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        assert _cli(folder, "check", "--config", "envoy.yaml", env=env).returncode == 0
        reloaded = _cli(folder, "reload", env=env)
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
        # (`up` may have seen the saved file first: then this second look finds Envoy's part unchanged.)
        assert "\nreloaded " in "\n" + reloaded.stdout and "the service processes reloaded" in reloaded.stdout
        assert client.chat.completions.create(model="quick", messages=[{"role": "user", "content": "hi"}]).choices
        # A typo is refused with the fix, and the gateway keeps answering.
        meta["aliasses"] = meta.pop("aliases")
        (folder / "envoy.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        refused = _cli(folder, "reload", env=env)
        assert refused.returncode == 1 and "did you mean aliases?" in refused.stdout, refused.stdout
        assert client.chat.completions.create(model="quick", messages=[{"role": "user", "content": "still"}]).choices
        # Compare (terminal 4): both answer everything, and like for like no policy differs.
        compared = _cli(folder, "compare", "--litellm", litellm_url, "--gateway", f"http://127.0.0.1:{port}",
                        "--model", "chat", env=env | {"LITELLM_MASTER_KEY": litellm_key, "LLM_GATEWAY_KEY": key.group(1)})  # fmt: skip
        assert compared.returncode == 0, compared.stdout + compared.stderr
        assert "FAILED" not in compared.stdout and "policies differ" not in compared.stdout
        rows = {line.split("  ")[0]: line for line in compared.stdout.splitlines()}
        assert " 200 / 200 " in rows["personal data"] and " 200 / 200 " in rows["chat"]
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, "".join(rest)
        reader.join(10)
        up.stdout.close()
    tmpdir.rmdir()  # up removed its run folder
