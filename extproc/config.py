"""Loading envoy.yaml and building the service's start-up state from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .catalog import Catalog, CatalogError, Endpoint, load_catalog
from .credentials import Credentials
from .endpoints import default_registry
from .estimate import Estimator
from .pricing import Pricing
from .processor import Gateway
from .stages import AccountingStage, CostControlStage, RoutingStage
from .translation import ProviderTranslator, TranslationError

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
    pricing = pricing or Pricing()
    estimator = Estimator(pricing)
    stages = [RoutingStage(catalog), CostControlStage(estimator), AccountingStage(pricing)]
    return Gateway(
        catalog=catalog,
        registry=default_registry(),
        stages=stages,
        credentials=credentials or Credentials(),
        translators=build_translators(catalog),
        estimator=estimator,
        pricing=pricing,
    )


def build_translators(catalog: Catalog) -> dict[Endpoint, ProviderTranslator]:
    """One translator per provider endpoint; CatalogError names an endpoint LiteLLM cannot serve."""
    translators: dict[Endpoint, ProviderTranslator] = {}
    for route in catalog.routes.values():
        for endpoint in route.endpoints:
            options = {"api_version": endpoint.api_version} if endpoint.api_version else None
            try:
                translators[endpoint] = ProviderTranslator.for_model(endpoint.model, endpoint.api_base, options)
            except (TranslationError, ValueError) as exc:
                raise CatalogError(
                    f"endpoint {endpoint.address} of cluster {endpoint.cluster!r}: model {endpoint.model!r} "
                    f"cannot be served: {exc}"
                ) from None
    return translators
