"""The one walk of envoy.yaml's `llm_gateway` settings, each place checked against its schema.

`gateway_settings` is what the service, `check` and `reload` read: the
virtual host's settings and every model route's, validated, or a ConfigError
listing every mistake at once (a misspelt key, a value out of range, a route
without a model, settings put where the service never reads them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from extproc.config.envoy_yaml import METADATA_NAMESPACE, MODEL_HEADER, iter_lb_endpoints, iter_virtual_hosts, static_resources
from extproc.config.problems import sentences
from extproc.config.schema import (
    EndpointSettings,
    FallbackListRouteSettings,
    LaneRouteSettings,
    ModelRouteSettings,
    VirtualHostSettings,
)

_Section = TypeVar("_Section", bound=BaseModel)


class ConfigError(ValueError):
    """envoy.yaml's `llm_gateway` settings are wrong; `problems` names each mistake and where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Every `llm_gateway` setting of one envoy.yaml, validated."""

    virtual_host: VirtualHostSettings = VirtualHostSettings()
    # Model routes by model name, in file order (a second route of one name is the catalog's error).
    routes: dict[str, ModelRouteSettings] = field(default_factory=dict)


@dataclass
class _Walk:
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    problems: list[str] = field(default_factory=list)


def gateway_settings(config: dict[str, Any]) -> GatewaySettings:
    """The validated settings of a parsed envoy.yaml; ConfigError lists every mistake."""
    walk = _walk(config)
    if walk.problems:
        raise ConfigError(walk.problems)
    return walk.settings


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every mistake in a parsed envoy.yaml's `llm_gateway` settings, as sentences (empty when none)."""
    return _walk(config).problems


def route_settings(
    route: dict[str, Any], where: str
) -> ModelRouteSettings | LaneRouteSettings | FallbackListRouteSettings | None:
    """A route's settings (None when it has none); ConfigError when they are wrong."""
    present, meta = _section(route)
    if not present:
        return None
    level: type[ModelRouteSettings] | type[LaneRouteSettings] | type[FallbackListRouteSettings] = ModelRouteSettings
    if isinstance(meta, dict) and "lane" in meta:
        level = LaneRouteSettings
    elif isinstance(meta, dict) and "fallback_list" in meta:
        level = FallbackListRouteSettings
    return _validated(level, meta, where)


def endpoint_settings(lb_endpoint: dict[str, Any], cluster: str) -> EndpointSettings | None:
    """An endpoint's settings (None when it has none); ConfigError when they are wrong."""
    present, meta = _section(lb_endpoint)
    return _validated(EndpointSettings, meta, endpoint_name(lb_endpoint, cluster)) if present else None


def iter_named_routes(config: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every route of every virtual host, with the name messages give it (`route_name`)."""
    for vhost in iter_virtual_hosts(config):
        for index, route in enumerate(vhost.get("routes", []) or []):
            yield route, route_name(vhost, route, index)


def route_name(vhost: dict[str, Any], route: dict[str, Any], index: int) -> str:
    """How messages name a route: by its model, or the header it matches, or its place."""
    meta = _section(route)[1]
    if isinstance(meta, dict) and isinstance(meta.get("model"), str):
        return f"model {meta['model']!r}"
    if isinstance(meta, dict) and "lane" in meta:
        return f"lane route {(route.get('match') or {}).get('prefix', '')!r}"
    for header in (route.get("match") or {}).get("headers", []) or []:
        if header.get("name") == MODEL_HEADER:
            return f"the route for {MODEL_HEADER} {(header.get('string_match') or {}).get('exact')!r}"
    return f"route {index + 1} of virtual host {vhost.get('name')!r}"


def endpoint_name(lb_endpoint: dict[str, Any], cluster: str) -> str:
    """How messages name an endpoint: its cluster and address."""
    socket = ((lb_endpoint.get("endpoint") or {}).get("address") or {}).get("socket_address") or {}
    return f"cluster {cluster!r} endpoint {socket.get('address', '')}:{socket.get('port_value', '')}"


def _walk(config: dict[str, Any]) -> _Walk:
    walk = _Walk()
    read: set[int] = set()
    virtual_host: VirtualHostSettings | None = None
    for vhost in iter_virtual_hosts(config):
        present, meta = _section(vhost)
        if present:
            read.add(id(vhost["metadata"]))
            found = _collect(walk, VirtualHostSettings, meta, f"virtual host {vhost.get('name')!r}")
            if virtual_host is None and found is not None and meta:
                virtual_host = found
    routes: dict[str, ModelRouteSettings] = {}
    for route, where in iter_named_routes(config):
        if not _section(route)[0]:
            continue
        read.add(id(route["metadata"]))
        try:
            settings = route_settings(route, where)
        except ConfigError as exc:
            walk.problems += exc.problems
            continue
        if isinstance(settings, ModelRouteSettings):
            routes.setdefault(settings.model, settings)
    for cluster in static_resources(config).get("clusters", []) or []:
        name = str(cluster.get("name", ""))
        for _, lb_endpoint in iter_lb_endpoints(cluster):
            if _section(lb_endpoint)[0]:
                read.add(id(lb_endpoint["metadata"]))
                try:
                    endpoint_settings(lb_endpoint, name)
                except ConfigError as exc:
                    walk.problems += exc.problems
    walk.problems += [
        f"{where}: the service does not read `{METADATA_NAMESPACE}` settings here; they belong on the virtual host, "
        "a route or an endpoint (lb_endpoints[].metadata)"
        for where in _unread_sections(config, read)
    ]
    walk.settings = GatewaySettings(virtual_host or VirtualHostSettings(), routes)
    return walk


def _collect(walk: _Walk, level: type[_Section], meta: Any, where: str) -> _Section | None:
    try:
        return _validated(level, meta, where)
    except ConfigError as exc:
        walk.problems += exc.problems
        return None


def _validated(level: type[_Section], meta: Any, where: str) -> _Section:
    if not isinstance(meta, dict):
        raise ConfigError([f"{where}: `{METADATA_NAMESPACE}` must be a mapping of settings; got {type(meta).__name__}"])
    try:
        return level.model_validate(meta)
    except ValidationError as exc:
        raise ConfigError(sentences(exc, level, where)) from None


def _section(obj: dict[str, Any]) -> tuple[bool, Any]:
    """(present, value) of an object's `metadata.filter_metadata.llm_gateway`."""
    filter_metadata = (obj.get("metadata") or {}).get("filter_metadata") if isinstance(obj, dict) else None
    if not isinstance(filter_metadata, dict) or METADATA_NAMESPACE not in filter_metadata:
        return False, None
    return True, filter_metadata[METADATA_NAMESPACE]


def _unread_sections(node: Any, read: set[int], path: str = "") -> Iterator[str]:
    """The path of every `metadata.filter_metadata.llm_gateway` the walk above did not read."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and id(metadata) not in read and METADATA_NAMESPACE in (metadata.get("filter_metadata") or {}):
            yield f"{path or 'the top level'}" + (f" ({node['name']!r})" if "name" in node else "")
        for key, value in node.items():
            yield from _unread_sections(value, read, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unread_sections(value, read, f"{path}[{index}]")
