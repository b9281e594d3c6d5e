"""Rewriting an envoy.yaml for one run: ports, service replicas, fake provider.

The shipped envoy.yaml uses fixed default ports. `llm-gateway up`, the tests
and the benchmarks all run the same file with other ports or more service
processes; these functions make that copy without touching anything else.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from extproc.config.catalog import CatalogError, load_catalog
from extproc.config.envoy_yaml import gateway_section, iter_lb_endpoints, static_resources
from extproc.ops.fallback_resources import with_fallback_list
from extproc.routing.policy import DEFAULT_MAX_FALLBACK_MODELS
from extproc.tenancy.settings import tenancy_metadata

EXTPROC_CLUSTER = "llm_gateway_extproc"
FAKE_PROVIDER_KEY_ENV = "FAKE_PROVIDER_API_KEY"


@dataclass(frozen=True, slots=True)
class ServiceAddress:
    """Where one ext_proc service process listens (TCP port or Unix socket)."""

    port: int = 0
    uds: str | None = None

    def grpc_target(self) -> str:
        """The gRPC target that reaches this process (health checks)."""
        return f"unix:{self.uds}" if self.uds else f"127.0.0.1:{self.port}"

    def envoy_address(self) -> dict[str, Any]:
        """The Envoy `address` block that reaches this process."""
        if self.uds:
            return {"pipe": {"path": self.uds}}
        return {"socket_address": {"address": "127.0.0.1", "port_value": self.port}}


def render(
    config: dict[str, Any],
    *,
    listener_host: str | None = None,
    listener_port: int | None = None,
    admin_port: int | None = None,
    services: list[ServiceAddress] | None = None,
    fake_provider_port: int | None = None,
) -> dict[str, Any]:
    """A copy of `config` with the given ports and service endpoints, and the resources that walk a
    client's fallback list (`fallback_resources.py`)."""
    out = with_fallback_resources(copy.deepcopy(config))
    static = out.get("static_resources") or {}
    for listener in (static.get("listeners", []) or [])[:1]:
        if listener_port is not None:
            listener["address"]["socket_address"]["port_value"] = listener_port
        if listener_host is not None:
            listener["address"]["socket_address"]["address"] = listener_host
    if admin_port is not None:
        out.setdefault("admin", {})["address"] = {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
    for cluster in static.get("clusters", []) or []:
        if cluster.get("name") == EXTPROC_CLUSTER and services:
            cluster["load_assignment"]["endpoints"] = [
                {"lb_endpoints": [{"endpoint": {"address": s.envoy_address()}} for s in services]}
            ]
        elif fake_provider_port is not None:
            for lb_endpoint in fake_provider_endpoints(cluster):
                _move_endpoint(lb_endpoint, fake_provider_port)
    return out


def with_fallback_resources(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the fallback-list clusters and route for its chat models (`routing.max_fallback_models`
    positions); as it is when its models cannot be read (`check` says why)."""
    try:
        catalog = load_catalog(config)
    except CatalogError:
        return config
    routing = tenancy_metadata(config).get("routing")
    slots = routing.get("max_fallback_models") if isinstance(routing, dict) else None
    slots = slots if isinstance(slots, int) and not isinstance(slots, bool) and 1 <= slots <= 10 else DEFAULT_MAX_FALLBACK_MODELS
    return with_fallback_list(config, catalog, slots)


def fake_provider_endpoints(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoints of a cluster that the fake provider serves (by their key variable)."""
    found = []
    for _, lb_endpoint in iter_lb_endpoints(cluster):
        if (gateway_section(lb_endpoint) or {}).get("api_key_env") == FAKE_PROVIDER_KEY_ENV:
            found.append(lb_endpoint)
    return found


def uses_fake_provider(config: dict[str, Any]) -> bool:
    """True when some provider endpoint is served by the fake provider."""
    clusters = static_resources(config).get("clusters", []) or []
    return any(fake_provider_endpoints(cluster) for cluster in clusters)


def _move_endpoint(lb_endpoint: dict[str, Any], port: int) -> None:
    lb_endpoint["endpoint"]["address"]["socket_address"]["port_value"] = port
    meta = gateway_section(lb_endpoint)
    assert meta is not None, "fake_provider_endpoints found it"
    if meta.get("api_base"):
        parts = urlsplit(meta["api_base"])
        meta["api_base"] = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))
