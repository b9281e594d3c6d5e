"""Running the real LiteLLM proxy (`litellm --config`) side by side, for `compare`'s tests and the benchmarks.

It comes from the .venv-litellm that `scripts/install.sh test` makes: the
proxy's extras change the LiteLLM library's behaviour, so it is kept apart
from the gateway's own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from .launcher import free_port

ROOT = Path(__file__).resolve().parent.parent  # a source checkout
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"



class LiteLLMProxy:
    """A running LiteLLM proxy: its base URL and master key."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key


@contextmanager
def litellm_proxy(config: dict[str, Any], run_dir: Path, env: dict[str, str]) -> Iterator[LiteLLMProxy]:
    """Start the proxy on a free loopback port with `config`; stop it by its PID."""
    if not LITELLM.exists():
        raise RuntimeError(f"{LITELLM} is missing: run `scripts/install.sh test`, which installs the LiteLLM proxy")
    path = run_dir / "litellm-config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    key = "sk-" + secrets.token_hex(16)
    log = open(run_dir / "litellm.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(LITELLM), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the LiteLLM proxy exited with {process.returncode}; see {run_dir / 'litellm.log'}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the LiteLLM proxy did not start in 90 s; see {run_dir / 'litellm.log'}")
            time.sleep(0.5)
        yield LiteLLMProxy(f"http://127.0.0.1:{port}", key)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
