"""Reading envoy.yaml: the file, its walks, and the one place the gateway's metadata is read from it.

Everything the gateway configures lives under `metadata.filter_metadata.llm_gateway`
of a route, a virtual host or an endpoint (`gateway_section`). The walks below
reach every listener filter, connection manager, virtual host and route of a
bootstrap's static resources.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# The metadata namespace of every gateway setting in envoy.yaml, and of the dynamic metadata the
# service writes for the access log.
METADATA_NAMESPACE = "llm_gateway"
HCM_NAME = "envoy.filters.network.http_connection_manager"
BUFFER_FILTER = "envoy.filters.http.buffer"
# The request header the service sets to the canonical model name; each model route matches it.
MODEL_HEADER = "x-gateway-model"
# The shipped configuration, next to the package in a source checkout.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "envoy" / "envoy.yaml"


# `llm-gateway up` renders the operator's envoy.yaml into a copy of its own; this first line of the
# copy names the operator's file, so every process reports the hash of the file that was edited.
SOURCE_HASH_MARKER = "# llm-gateway source sha256: "


def config_hash(text: bytes) -> str:
    """The SHA-256 that names a configuration: the operator's file's, as `up`'s copy records it, or the file's own."""
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    if first.startswith(SOURCE_HASH_MARKER):
        return first[len(SOURCE_HASH_MARKER):].strip()
    return hashlib.sha256(text).hexdigest()


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse an Envoy bootstrap YAML file."""
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not an Envoy bootstrap (a YAML mapping)")
    return config


def gateway_section(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The `metadata.filter_metadata.llm_gateway` mapping of a route, virtual host or endpoint (None if absent)."""
    meta = ((obj.get("metadata") or {}).get("filter_metadata") or {}).get(METADATA_NAMESPACE)
    return meta if isinstance(meta, dict) else None


def static_resources(config: dict[str, Any]) -> dict[str, Any]:
    """The bootstrap's `static_resources` ({} when absent)."""
    return config.get("static_resources") or {}


def iter_network_filters(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every network filter of every listener's filter chains."""
    for listener in static_resources(config).get("listeners", []) or []:
        for chain in listener.get("filter_chains", []) or []:
            yield from chain.get("filters", []) or []


def iter_connection_managers(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The config (`typed_config`, as the config's own mapping) of every HTTP connection manager."""
    for network_filter in iter_network_filters(config):
        if network_filter.get("name") == HCM_NAME:
            yield network_filter.get("typed_config") or {}


def iter_virtual_hosts(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every virtual host of every HTTP connection manager's inline route_config."""
    for network_filter in iter_network_filters(config):
        hcm = network_filter.get("typed_config") or {}
        yield from (hcm.get("route_config") or {}).get("virtual_hosts", []) or []


def iter_routes_with_hosts(config: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (virtual host, route) pair."""
    for vhost in iter_virtual_hosts(config):
        for route in vhost.get("routes", []) or []:
            yield vhost, route


def iter_routes(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every route of every virtual host."""
    for _, route in iter_routes_with_hosts(config):
        yield route


def iter_lb_endpoints(cluster: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every (priority, lb_endpoint) of a cluster's load assignment."""
    for locality in (cluster.get("load_assignment") or {}).get("endpoints", []) or []:
        priority = int(locality.get("priority", 0))
        for lb_endpoint in locality.get("lb_endpoints", []) or []:
            yield priority, lb_endpoint


def max_request_bytes(config: dict[str, Any]) -> int | None:
    """The request body cap of the buffer filter (the smallest, if several connection managers set one), or None."""
    caps = [
        int((http_filter.get("typed_config") or {}).get("max_request_bytes") or 0)
        for hcm in iter_connection_managers(config)
        for http_filter in hcm.get("http_filters", []) or []
        if http_filter.get("name") == BUFFER_FILTER
    ]
    return min((cap for cap in caps if cap > 0), default=None)


def envoy_admin_url(config: dict[str, Any]) -> str | None:
    """Envoy's admin interface as the config places it (loopback in the shipped one), or None."""
    socket = ((config.get("admin") or {}).get("address") or {}).get("socket_address") or {}
    host, port = socket.get("address"), socket.get("port_value")
    if not host or not port:
        return None
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def is_ip_address(host: str) -> bool:
    """True for an IP address, False for a DNS name (a cluster of names is STRICT_DNS, of addresses STATIC)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
