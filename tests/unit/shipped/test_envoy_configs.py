"""Every Envoy bootstrap shipped in the repository passes `envoy --mode validate`, with no deprecated field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from extproc.ops.launcher import envoy_binary

ROOT = Path(__file__).resolve().parents[3]
BOOTSTRAPS = sorted(
    path
    for folder in ("envoy", "benchmarks")
    for path in (ROOT / folder).rglob("*.yaml")
    if "static_resources" in (yaml.safe_load(path.read_text()) or {})
)


def test_the_shipped_gateway_config_is_among_them() -> None:
    assert ROOT / "envoy" / "envoy.yaml" in BOOTSTRAPS


@pytest.mark.parametrize("path", BOOTSTRAPS, ids=[str(p.relative_to(ROOT)) for p in BOOTSTRAPS])
def test_envoy_validates(path: Path) -> None:
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "warning"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr or result.stdout
    # Envoy warns at every start about a deprecated field, and drops it in a later release.
    assert "Deprecated field" not in result.stderr + result.stdout, result.stderr or result.stdout
