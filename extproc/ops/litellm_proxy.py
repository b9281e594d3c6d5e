"""Running the real LiteLLM proxy (`litellm --config`) side by side, for `compare`'s tests and the benchmarks.

It comes from the .venv-litellm that `scripts/install.sh test` makes: the
proxy's extras change the LiteLLM library's behaviour, so it is kept apart
from the gateway's own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from extproc.ops.launcher import Child, free_port, terminate, wait_http

ROOT = Path(__file__).resolve().parents[2]  # a source checkout
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"
# Its start-up imports a lot: about 10 s on these machines.
_START_TIMEOUT_S = 90.0


@dataclass(frozen=True, slots=True)
class LiteLLMProxy:
    """A running LiteLLM proxy: its base URL and master key."""

    url: str
    key: str


@contextmanager
def litellm_proxy(config: dict[str, Any], run_dir: Path, env: dict[str, str]) -> Iterator[LiteLLMProxy]:
    """Start the proxy on a free loopback port with `config`; stop it by its PID."""
    if not LITELLM.exists():
        raise RuntimeError(f"{LITELLM} is missing: run `scripts/install.sh test`, which installs the LiteLLM proxy")
    path = run_dir / "litellm-config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    key = "sk-" + secrets.token_hex(16)
    log_path = run_dir / "litellm.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by terminate()
    process = subprocess.Popen(
        [str(LITELLM), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    child = Child("litellm-proxy", process, log_path, log_file)
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", child, _START_TIMEOUT_S)
        yield LiteLLMProxy(f"http://127.0.0.1:{port}", key)
    finally:
        terminate(child)
