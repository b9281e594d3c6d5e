"""`up`, `render` and the tests: the Envoy resources that let a client's `models` fallback list be walked by
Envoy's own retries.

Envoy retries within one route and one cluster, so a list the client orders per request needs
a cluster whose priority levels the request can fill in. This module derives one from the
catalog (docs/adr/0010-routing.md):

- `llm_gateway_fallback_slot_<i>`, one cluster per list position, holds a copy of the first
  level's endpoints of every chat model; each copy carries its model's `llm_gateway` metadata
  (plus `fallback_model`) and `envoy.lb: {position_<i>: <model>}`. The subset load balancer
  picks, per request, the copies of the model the request names at that position.
- `llm_gateway_fallback_list`, an aggregate cluster of the slots in order: slot i is priority i,
  so `previous_priorities` retries walk the list, one position per retry. It carries the
  upstream ext_proc filter (an aggregate's upstream filters are the ones that run), which
  prepares each attempt for its endpoint as on any provider cluster.
- a route matching `x-gateway-model: llm-gateway-fallback-list`, with the retry policy of the
  first model route that has one; the service sets that header, the `envoy.lb` positions
  (unused ones to `-`, which no endpoint has) and `x-envoy-max-retries`.

`llm-gateway up`, `render` and the tests add these to the configuration they run
(`ops/envoy_config.render`); a configuration without them refuses `models` with a 400 that says so.
Endpoints keep their TLS through `transport_socket_matches`.
"""

from __future__ import annotations

import copy
from typing import Any

from extproc.config.catalog import Catalog, has_upstream_ext_proc
from extproc.config.envoy_yaml import (
    METADATA_NAMESPACE,
    iter_lb_endpoints,
    iter_virtual_hosts,
    static_resources,
)
from extproc.config.fallback_list import (
    AGGREGATE_CLUSTER,
    FALLBACK_MODEL,
    FALLBACK_MODEL_KEY,
    LB_NAMESPACE,
    SLOT_PREFIX,
    is_fallback_route,
    position_key,
)

_TLS_MATCH_KEY = "llm_gateway_tls"
_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def with_fallback_list(config: dict[str, Any], catalog: Catalog, slots: int) -> dict[str, Any]:
    """`config` with the fallback-list clusters and route (replacing any a previous render added);
    `config` itself when no cluster runs the upstream ext_proc filter to copy, or no chat model exists."""
    static = static_resources(config)
    clusters = {c.get("name"): c for c in static.get("clusters", []) or []}
    upstream_options = next(
        (c["typed_extension_protocol_options"] for c in clusters.values() if has_upstream_ext_proc(c)), None
    )
    chat = [r for r in catalog.routes.values() if r.kind == "chat" and r.endpoints]
    host = next((h for h in iter_virtual_hosts(config) if any(_model_of(r) for r in h.get("routes", []) or [])), None)
    if upstream_options is None or not chat or host is None:
        return config
    out = copy.deepcopy(config)
    out_static = static_resources(out)
    kept = [c for c in out_static["clusters"] if not _generated(c.get("name", ""))]
    slot_clusters = [_slot(i, slots, chat, clusters) for i in range(slots)]
    aggregate = {
        "name": AGGREGATE_CLUSTER,
        "connect_timeout": "2s",
        "lb_policy": "CLUSTER_PROVIDED",
        "cluster_type": {
            "name": "envoy.clusters.aggregate",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig",
                "clusters": [c["name"] for c in slot_clusters],
            },
        },
        "typed_extension_protocol_options": copy.deepcopy(upstream_options),
    }
    budget = next((c["circuit_breakers"] for c in clusters.values() if "circuit_breakers" in c and c.get("name") != "llm_gateway_extproc"), None)
    if budget is not None:
        aggregate["circuit_breakers"] = copy.deepcopy(budget)
    out_static["clusters"] = [*kept, *slot_clusters, aggregate]
    out_host = next(h for h in iter_virtual_hosts(out) if h.get("name") == host.get("name"))
    routes = [r for r in out_host.get("routes", []) or [] if not is_fallback_route(r)]
    # After the model routes (it matches its own header value only), before any catch-all.
    after = max(i for i, r in enumerate(routes) if _model_of(r)) + 1
    out_host["routes"] = [*routes[:after], _route(host, slots), *routes[after:]]
    return out


def _slot(position: int, slots: int, chat: list[Any], clusters: dict[str, Any]) -> dict[str, Any]:
    """The cluster of one list position: every chat model's first level, each tagged with its model."""
    lb_endpoints = []
    tls_matches: dict[str, dict[str, Any]] = {}
    for route in chat:
        source = clusters[route.cluster]
        first = min(e.priority for e in route.endpoints)
        for priority, lb_endpoint in iter_lb_endpoints(source):
            if priority != first:
                continue
            entry = copy.deepcopy(lb_endpoint)
            metadata = entry.setdefault("metadata", {}).setdefault("filter_metadata", {})
            metadata[METADATA_NAMESPACE][FALLBACK_MODEL_KEY] = route.name
            metadata[LB_NAMESPACE] = {position_key(position): route.name}
            if "transport_socket" in source:
                metadata["envoy.transport_socket_match"] = {_TLS_MATCH_KEY: route.cluster}
                tls_matches[route.cluster] = {
                    "name": route.cluster,
                    "match": {_TLS_MATCH_KEY: route.cluster},
                    "transport_socket": copy.deepcopy(source["transport_socket"]),
                }
            lb_endpoints.append(entry)
    name = f"{SLOT_PREFIX}{position}"
    cluster: dict[str, Any] = {
        "name": name,
        # Names (a provider's host) and addresses (a local server) alike.
        "type": "STRICT_DNS",
        "connect_timeout": "2s",
        "per_connection_buffer_limit_bytes": 16777216,
        "lb_subset_config": {
            "fallback_policy": "NO_FALLBACK",
            "subset_selectors": [
                {
                    "keys": [position_key(i) for i in range(slots)],
                    "fallback_policy": "KEYS_SUBSET",
                    "fallback_keys_subset": [position_key(position)],
                },
                {"keys": [position_key(position)]},
            ],
        },
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": lb_endpoints}]},
        "typed_extension_protocol_options": {
            _PROTOCOL_OPTIONS: {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
    }
    if tls_matches:
        cluster["transport_socket_matches"] = list(tls_matches.values())
    return cluster


def _route(host: dict[str, Any], slots: int) -> dict[str, Any]:
    """The route the service sends a fallback list to; retries walk one position each."""
    policy: dict[str, Any] = next(
        (copy.deepcopy(r["route"]["retry_policy"]) for r in host.get("routes", []) or []
         if _model_of(r) and "retry_policy" in (r.get("route") or {})),
        {"retry_on": "5xx,reset,connect-failure,refused-stream,retriable-status-codes", "retriable_status_codes": [429]},
    )  # fmt: skip
    policy["num_retries"] = slots - 1
    policy["retry_priority"] = {
        "name": "envoy.retry_priorities.previous_priorities",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
            "update_frequency": 1,
        },
    }
    return {
        "match": {"prefix": "/", "headers": [{"name": "x-gateway-model", "string_match": {"exact": FALLBACK_MODEL}}]},
        "route": {"cluster": AGGREGATE_CLUSTER, "timeout": "600s", "retry_policy": policy},
        "metadata": {"filter_metadata": {METADATA_NAMESPACE: {"fallback_list": True}}},
    }


def _model_of(route: dict[str, Any]) -> str | None:
    meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get(METADATA_NAMESPACE) or {}
    return meta.get("model")


def _generated(name: str) -> bool:
    return name == AGGREGATE_CLUSTER or name.startswith(SLOT_PREFIX)
