"""Loading envoy.yaml and building the service's start-up state from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .catalog import load_catalog
from .credentials import Credentials
from .endpoints import default_registry
from .pricing import Pricing
from .processor import Gateway
from .stages import AccountingStage, RoutingStage

# The shipped configuration, next to the package in a source checkout.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "envoy" / "envoy.yaml"


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse an Envoy bootstrap YAML file."""
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not an Envoy bootstrap (a YAML mapping)")
    return config


def build_gateway(
    config: dict[str, Any], pricing: Pricing | None = None, credentials: Credentials | None = None
) -> Gateway:
    """The catalog, endpoint registry and stage pipeline that envoy.yaml describes."""
    catalog = load_catalog(config)
    stages = [RoutingStage(catalog), AccountingStage(pricing or Pricing())]
    return Gateway(
        catalog=catalog, registry=default_registry(), stages=stages, credentials=credentials or Credentials()
    )
