"""The model catalog: which models and aliases envoy.yaml offers, and where they go.

envoy.yaml is the single source of truth. A model is a route whose metadata
carries `filter_metadata.llm_gateway.model`; the route matches the
`x-gateway-model` header that the ext_proc service sets, and sends the call to a
cluster whose endpoints carry `filter_metadata.llm_gateway` (the LiteLLM model
string, the credentials source, the provider's base URL). The service reads the
same file Envoy loads, so the two can never disagree about what exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, get_args

from extproc.config.envoy_yaml import (
    METADATA_NAMESPACE,
    gateway_section,
    iter_connection_managers,
    iter_lb_endpoints,
    iter_routes_with_hosts,
    static_resources,
)
from extproc.config.envoy_yaml import MODEL_HEADER as MODEL_HEADER  # named from here by routing and the importer
from extproc.config.fallback_list import AGGREGATE_CLUSTER, SLOT_PREFIX, FallbackList, is_fallback_route, slot_count
from extproc.config.schema import EndpointSettings, LaneRouteSettings, ModelRouteSettings
from extproc.config.schema.levels import PRICE_FIELDS, RouteKind
from extproc.config.validation import ConfigError, endpoint_settings, iter_named_routes, route_settings

ROUTE_KINDS = get_args(RouteKind)
# An endpoint's price override in envoy.yaml, in LiteLLM's own key names (USD per token).
PRICE_KEYS = PRICE_FIELDS


class CatalogError(ConfigError):
    """envoy.yaml does not describe a usable model catalog."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


@dataclass(frozen=True, slots=True)
class Prices:
    """Per-token prices in USD that override LiteLLM's cost map (self-hosted models)."""

    prompt: float
    completion: float
    cached: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One provider endpoint of a cluster, as its `llm_gateway` metadata describes it."""

    cluster: str
    address: str
    priority: int
    model: str
    provider: str
    api_base: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    # Azure OpenAI's `api-version` query parameter.
    api_version: str | None = None
    prices: Prices | None = None
    # Client headers this endpoint may get besides the common ones (lower case; `x-fake-*`: a prefix).
    forward_headers: tuple[str, ...] = ()
    # On the fallback-list cluster: the model route whose endpoint this copy is.
    route: str | None = None

    @property
    def upstream_model(self) -> str:
        """The model name the provider expects (LiteLLM's string without the provider prefix)."""
        prefix = self.provider + "/"
        return self.model[len(prefix):] if self.model.startswith(prefix) else self.model


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A model (or its aliases) that clients may ask for, and the cluster that serves it."""

    name: str
    cluster: str
    aliases: tuple[str, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    description: str = ""
    # What the model serves: "chat" or "embeddings".
    kind: str = "chat"
    # True when the cluster runs the upstream ext_proc filter, which prepares
    # every attempt for its endpoint. Without it the router filter prepares
    # the request once, for the cluster's only endpoint.
    per_attempt: bool = True
    # Fallback levels (priorities after the first) are tried only while the
    # request's estimated maximum cost there stays at or under this, in USD.
    fallback_max_cost_usd: float | None = None
    # The most an answer on this route may be, in bytes: Envoy's `request_body_buffer_limit`
    # of the route (else its virtual host), which bounds every buffered body of the stream.
    buffer_bytes: int | None = None
    # The cluster's priority levels in fallback order (derived from the endpoints once,
    # since the cost-control stage reads it on every request).
    priorities: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "priorities", tuple(sorted({e.priority for e in self.endpoints})))


@dataclass(frozen=True, slots=True)
class VirtualModel:
    """A model name that no cluster serves: its route's `routing` policy picks a model per request
    (`routing/policy.py` reads the policy; Envoy never sees this name)."""

    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Lane:
    """A fail-open lane: requests under `prefix` (`/local/v1/...`) are for `cluster`'s models only,
    and Envoy, after its own authentication filter admits them, sends them straight to that
    cluster when the service is down (see `_lane` for what a lane must declare)."""

    prefix: str
    cluster: str


@dataclass(slots=True)
class Catalog:
    """Every model route, indexed by name and alias, and the fail-open lanes."""

    routes: dict[str, ModelRoute] = field(default_factory=dict)
    lanes: tuple[Lane, ...] = ()
    virtual: dict[str, VirtualModel] = field(default_factory=dict)
    # The route and cluster that walk a client's `models` list, when the configuration has them.
    fallback_list: FallbackList | None = None
    _by_name: dict[str, ModelRoute] = field(default_factory=dict)
    _virtual_by_name: dict[str, VirtualModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owners: dict[str, str] = {}
        entries: list[ModelRoute | VirtualModel] = [*self.routes.values(), *self.virtual.values()]
        for entry in entries:
            for name in (entry.name, *entry.aliases):
                if name in owners:
                    raise CatalogError(f"model name {name!r} is used by both {owners[name]!r} and {entry.name!r}")
                owners[name] = entry.name
                if isinstance(entry, ModelRoute):
                    self._by_name[name] = entry
                else:
                    self._virtual_by_name[name] = entry

    def resolve(self, requested: str) -> ModelRoute | None:
        """The route serving `requested` (a model name or an alias), if any."""
        return self._by_name.get(requested)

    def resolve_virtual(self, requested: str) -> VirtualModel | None:
        """The virtual model `requested` names (its name or an alias), if any."""
        return self._virtual_by_name.get(requested)

    def lane_for(self, path: str) -> Lane | None:
        """The lane a request path is under, if any."""
        for lane in self.lanes:
            if path.startswith(lane.prefix + "/"):
                return lane
        return None

    def lane_models(self, lane: Lane) -> list[str]:
        """The model names a lane serves."""
        return sorted(r.name for r in self.routes.values() if r.cluster == lane.cluster)

    def names(self) -> list[str]:
        """Every name a client may ask for: models first, then virtual models, then aliases, sorted."""
        models = sorted(self.routes)
        virtual = sorted(self.virtual)
        aliases = sorted(n for n in (*self._by_name, *self._virtual_by_name) if n not in self.routes and n not in self.virtual)
        return models + virtual + aliases


def provider_of(model: str) -> str:
    """The LiteLLM provider prefix of a model string (`openai/gpt-4o` -> `openai`)."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def load_catalog(config: dict[str, Any]) -> Catalog:
    """Build the catalog from a parsed envoy.yaml (bootstrap with static resources)."""
    clusters = {c.get("name"): c for c in static_resources(config).get("clusters", []) or []}
    vhosts = {id(route): vhost for vhost, route in iter_routes_with_hosts(config)}
    routes: dict[str, ModelRoute] = {}
    virtual: dict[str, VirtualModel] = {}
    lanes: list[Lane] = []
    has_fallback_route = False
    for route, where in iter_named_routes(config):
        has_fallback_route = has_fallback_route or is_fallback_route(route)
        settings = route_settings(route, where)
        if isinstance(settings, LaneRouteSettings):
            lanes.append(_lane(route, clusters, envoy_auth_filters(config)))
            continue
        if not isinstance(settings, ModelRouteSettings):
            continue
        name = settings.model
        if settings.routing is not None:
            if name in virtual or name in routes:
                raise CatalogError(f"model {name!r} is defined by two routes")
            virtual[name] = _virtual_model(route, settings)
            continue
        target = (route.get("route") or {}).get("cluster")
        if not target:
            raise CatalogError(f"route for model {name!r} must name a `cluster` in its `route` action")
        if target not in clusters:
            raise CatalogError(f"route for model {name!r} sends to cluster {target!r}, which is not defined")
        if not _matches_model_header(route, name):
            raise CatalogError(
                f"route for model {name!r} must match header {MODEL_HEADER!r} exactly equal to {name!r}"
            )
        if name in routes:
            raise CatalogError(f"model {name!r} is defined by two routes")
        routes[name] = ModelRoute(
            name=name,
            cluster=target,
            aliases=tuple(settings.aliases),
            endpoints=tuple(cluster_endpoints(clusters[target])),
            description=settings.description,
            kind=settings.kind,
            per_attempt=has_upstream_ext_proc(clusters[target]),
            fallback_max_cost_usd=settings.fallback_max_cost_usd,
            buffer_bytes=_buffer_limit(route) or _buffer_limit(vhosts[id(route)]),
        )
        if not routes[name].per_attempt and len({e.model for e in routes[name].endpoints}) > 1:
            raise CatalogError(
                f"cluster {target!r} mixes endpoints of different models; it needs the upstream "
                "ext_proc filter (see the provider clusters in the shipped envoy.yaml)"
            )
    for lane in lanes:
        if not any(r.cluster == lane.cluster for r in routes.values()):
            raise CatalogError(f"lane {lane.prefix!r} sends to cluster {lane.cluster!r}, which serves no model route")
    fallback = _fallback_list(routes, slot_count(clusters)) if has_fallback_route and AGGREGATE_CLUSTER in clusters else None
    return Catalog(routes, tuple(lanes), virtual, fallback)


def _fallback_list(routes: dict[str, ModelRoute], slots: int) -> FallbackList:
    """Each chat model's first level as the fallback-list cluster serves it (ops/fallback_resources.py copies them)."""
    endpoints = {}
    for route in routes.values():
        if route.kind == "chat" and route.endpoints:
            first = route.priorities[0]
            endpoints[route.name] = tuple(
                replace(e, cluster=AGGREGATE_CLUSTER, route=route.name) for e in route.endpoints if e.priority == first
            )
    return FallbackList(AGGREGATE_CLUSTER, slots, endpoints)


def _virtual_model(route: dict[str, Any], settings: ModelRouteSettings) -> VirtualModel:
    """A route whose `routing` policy picks the model: it matches its name like a model route, and
    sends nowhere (Envoy only sees the model the policy picked)."""
    name = settings.model
    if (route.get("route") or {}).get("cluster"):
        raise CatalogError(
            f"route for model {name!r} has a `routing` policy and a cluster: a policy's route sends nowhere "
            "(use a `direct_response`; see the `auto` route in the shipped envoy.yaml)"
        )
    if not _matches_model_header(route, name):
        raise CatalogError(f"route for model {name!r} must match header {MODEL_HEADER!r} exactly equal to {name!r}")
    return VirtualModel(name=name, aliases=tuple(settings.aliases), description=settings.description)


def _lane(route: dict[str, Any], clusters: dict[str, Any], auth_filters: set[str]) -> Lane:
    """A fail-open lane route: `match.prefix: /<name>/v1/` to a cluster the router filter prepares for.

    Without the service nothing checks a lane's requests but Envoy, so the route must switch
    on one of Envoy's own authentication filters (`typed_per_filter_config`, with the filter in
    the listener's chain), and a credential Envoy injects there must not be one the gateway
    uses for another cluster's provider: a lane reaches only the operator's own server.
    """
    prefix = str((route.get("match") or {}).get("prefix", ""))
    cluster = (route.get("route") or {}).get("cluster", "")
    if not prefix.startswith("/") or not prefix.endswith("/v1/") or prefix.count("/") != 3:
        raise CatalogError(f"a lane route must match a prefix like '/local/v1/'; got {prefix!r}")
    if cluster not in clusters:
        raise CatalogError(f"lane {prefix!r} sends to cluster {cluster!r}, which is not defined")
    if has_upstream_ext_proc(clusters[cluster]):
        raise CatalogError(
            f"lane {prefix!r} sends to cluster {cluster!r}, whose upstream ext_proc filter would fail closed "
            "without the service: a lane's cluster must not run it"
        )
    enabled = set(route.get("typed_per_filter_config") or {}) & auth_filters
    if not enabled:
        raise CatalogError(
            f"lane {prefix!r} fails open without authentication: enable one of Envoy's authentication "
            f"filters ({', '.join(sorted(ENVOY_AUTH_FILTERS))}) on its route (typed_per_filter_config) and "
            "in the listener's http_filters (see docs/configuration.md, 'A fail-open lane')"
        )
    foreign = _injected_variables(route) & _provider_key_variables(clusters, exclude=cluster)
    if foreign:
        raise CatalogError(
            f"lane {prefix!r} injects {', '.join(sorted(foreign))}, the API key of another cluster's provider: "
            "a lane may carry only its own server's key (a variable no other endpoint uses)"
        )
    return Lane(prefix=prefix[: -len("/v1/")], cluster=cluster)


# Envoy's filters that authenticate a request by themselves (no external service).
ENVOY_AUTH_FILTERS = frozenset(
    {
        "envoy.filters.http.basic_auth",
        "envoy.filters.http.api_key_auth",
        "envoy.filters.http.jwt_authn",
        "envoy.filters.http.rbac",
    }
)
_ENVIRONMENT = re.compile(r"%ENVIRONMENT\(([^)]+)\)%")


def envoy_auth_filters(config: dict[str, Any]) -> set[str]:
    """The names of Envoy's authentication filters present in any HTTP connection manager's chain."""
    return {
        http_filter.get("name", "")
        for hcm in iter_connection_managers(config)
        for http_filter in hcm.get("http_filters", []) or []
        if http_filter.get("name") in ENVOY_AUTH_FILTERS
    }


def _injected_variables(route: dict[str, Any]) -> set[str]:
    """Environment variables a route's request_headers_to_add puts in the upstream request."""
    names: set[str] = set()
    for option in route.get("request_headers_to_add", []) or []:
        names.update(_ENVIRONMENT.findall(str((option.get("header") or {}).get("value", ""))))
    return names


def _provider_key_variables(clusters: dict[str, Any], exclude: str) -> set[str]:
    """Every `api_key_env` of the endpoints of the clusters other than `exclude`."""
    names: set[str] = set()
    for name, cluster in clusters.items():
        # A fallback list's slot clusters hold copies of the model clusters' endpoints (their keys too).
        if name == exclude or str(name).startswith(SLOT_PREFIX):
            continue
        for _, lb_endpoint in iter_lb_endpoints(cluster):
            variable = (gateway_section(lb_endpoint) or {}).get("api_key_env")
            if variable:
                names.add(str(variable))
    return names


def cluster_endpoints(cluster: dict[str, Any]) -> Iterator[Endpoint]:
    """The provider endpoints of a cluster, in priority order."""
    name = cluster.get("name", "")
    for priority, lb_endpoint in iter_lb_endpoints(cluster):
        meta = endpoint_settings(lb_endpoint, name)
        if meta is None:
            raise CatalogError(
                f"an endpoint of cluster {name!r} has no `metadata.filter_metadata.{METADATA_NAMESPACE}`"
            )
        yield Endpoint(
            cluster=name,
            address=_address(lb_endpoint),
            priority=priority,
            model=meta.model,
            provider=meta.provider or provider_of(meta.model),
            api_base=meta.api_base,
            api_key_env=meta.api_key_env,
            api_key_file=meta.api_key_file,
            api_version=meta.api_version,
            prices=_prices(meta),
            forward_headers=tuple(meta.forward_headers),
        )


def _prices(meta: EndpointSettings) -> Prices | None:
    """The `input_cost_per_token` / `output_cost_per_token` override of an endpoint, if any (the schema
    makes sure both are there when one is)."""
    if meta.input_cost_per_token is None or meta.output_cost_per_token is None:
        return None
    cached = meta.cache_read_input_token_cost
    return Prices(meta.input_cost_per_token, meta.output_cost_per_token, meta.input_cost_per_token if cached is None else cached)


# The ext_proc filter's config type: an upstream filter is known by it, whatever its name (the shipped
# one is named apart from the router filter, so that each keeps its own timings for the access log).
EXT_PROC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"


def has_upstream_ext_proc(cluster: dict[str, Any]) -> bool:
    """True when the cluster's upstream HTTP filters include ext_proc."""
    for options in (cluster.get("typed_extension_protocol_options") or {}).values():
        for http_filter in (options or {}).get("http_filters", []) or []:
            if is_ext_proc(http_filter):
                return True
    return False


def is_ext_proc(http_filter: dict[str, Any]) -> bool:
    """True when an HTTP filter entry is ext_proc (by its config type, or by Envoy's filter name)."""
    typed = http_filter.get("typed_config") or {}
    return typed.get("@type") == EXT_PROC_TYPE or http_filter.get("name") == "envoy.filters.http.ext_proc"


def _buffer_limit(obj: dict[str, Any]) -> int | None:
    value = obj.get("request_body_buffer_limit")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def _matches_model_header(route: dict[str, Any], name: str) -> bool:
    for header in (route.get("match") or {}).get("headers", []) or []:
        if header.get("name") == MODEL_HEADER:
            return (header.get("string_match") or {}).get("exact") == name
    return False


def _address(lb_endpoint: dict[str, Any]) -> str:
    socket = ((lb_endpoint.get("endpoint") or {}).get("address") or {}).get("socket_address") or {}
    return f"{socket.get('address', '')}:{socket.get('port_value', '')}"
