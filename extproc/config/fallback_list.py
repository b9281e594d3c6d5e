"""A client's `models` fallback list as envoy.yaml serves it: the route, cluster and positions Envoy walks.

`ops/fallback_resources.py` adds them to the configuration `up`, `render` and the tests run
(one cluster per list position, an aggregate cluster over them, a route); the catalog finds them
here, and the routing stage fills the positions per request (`lb_criteria`), so that Envoy's
retries walk the client's list in its order (docs/adr/0010-routing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from extproc.config.envoy_yaml import METADATA_NAMESPACE

# The `x-gateway-model` value of the fallback-list route (no client can ask for it: not a model).
FALLBACK_MODEL = "llm-gateway-fallback-list"
AGGREGATE_CLUSTER = "llm_gateway_fallback_list"
SLOT_PREFIX = "llm_gateway_fallback_slot_"
# The load balancer's dynamic metadata namespace (the subset load balancer reads it).
LB_NAMESPACE = "envoy.lb"
# In a slot's endpoint metadata: the model route whose endpoint this copy is.
FALLBACK_MODEL_KEY = "fallback_model"
# An `envoy.lb` position value no endpoint has: a list shorter than the slots leaves the rest empty.
UNUSED = "-"


@dataclass(frozen=True, slots=True)
class FallbackList:
    """The fallback-list route's cluster, its positions, and per model the endpoints a position serves."""

    cluster: str = AGGREGATE_CLUSTER
    slots: int = 0
    # Model name -> its first level's endpoints, as the aggregate cluster serves them.
    endpoints: dict[str, tuple[Any, ...]] = field(default_factory=dict)


def position_key(position: int) -> str:
    """The `envoy.lb` key of a list position."""
    return f"position_{position}"


def lb_criteria(models: list[str], slots: int) -> dict[str, str]:
    """The `envoy.lb` dynamic metadata that makes the aggregate cluster walk `models` in order."""
    return {position_key(i): (models[i] if i < len(models) else UNUSED) for i in range(slots)}


def is_fallback_route(route: dict[str, Any]) -> bool:
    """True for the generated fallback-list route."""
    meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get(METADATA_NAMESPACE) or {}
    return meta.get("fallback_list") is True


def slot_count(clusters: dict[str, Any]) -> int:
    """How many list positions the configuration's slot clusters offer."""
    return sum(1 for name in clusters if str(name).startswith(SLOT_PREFIX))
