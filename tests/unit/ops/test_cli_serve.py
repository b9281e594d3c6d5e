"""`llm-gateway serve` refuses a configuration it cannot run with one clear line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.gateway_config import AUTO_POLICY, gateway_config, with_virtual_model


def test_a_routing_rule_naming_a_missing_model_is_refused_at_start(tmp_path: Path) -> None:
    policy = {**AUTO_POLICY, "rules": [{"name": "tools", "when": {"tools": True}, "model": "gpt-5"}]}
    config = with_virtual_model(gateway_config(), routing=policy)
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "extproc", "serve", "--config", str(path), "--port", "0"],
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "ERROR extproc.config: model 'auto' routing.rules[0] (tools).model names model 'gpt-5', which does not exist" in result.stderr
    assert "Traceback" not in result.stderr
