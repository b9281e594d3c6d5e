"""`llm-gateway render`: the shipped envoy.yaml, made deployable in containers or on Kubernetes.

On one host, `llm-gateway up` reaches the ext_proc service over loopback or
Unix sockets and the fake provider on 127.0.0.1. In a compose stack or a
cluster each part has a name instead: Envoy resolves the ext_proc service
and the fake provider by DNS (STRICT_DNS: every address a name resolves to
is an endpoint, so replicas behind one name are balanced and health-checked
one by one), listens on all interfaces, and the shared stores and caches are
switched on. Everything else (filters, routes, models, limits) stays as the
operator wrote it. Ports are rewritten by the same code `up` uses
(`envoy_config.render`); this module adds the host names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from extproc.cache.policy import MODES, SEMANTIC_STORES
from extproc.config.envoy_yaml import gateway_section, is_ip_address
from extproc.ops.envoy_config import EXTPROC_CLUSTER, fake_provider_endpoints, render
from extproc.telemetry.tracing import with_tracing
from extproc.tenancy.settings import STORE_KINDS, tenancy_metadata


class RenderError(ValueError):
    """An option or a source configuration that cannot be made deployable, in words an operator can act on."""


@dataclass(frozen=True, slots=True)
class HostPort:
    """A `host:port` address; the host may be a DNS name."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """`host:port` (or `[v6]:port`) as a HostPort; RenderError when it is not one."""
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RenderError(f"expected HOST:PORT, got {text!r}")
        return cls(host, int(port))

    def socket_address(self) -> dict[str, Any]:
        """The Envoy `address` block for this host and port."""
        return {"socket_address": {"address": self.host, "port_value": self.port}}

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the parts of a deployment are, and which shared stores it uses. None leaves the source as it is."""

    listen: HostPort | None = None
    admin: HostPort | None = None
    extproc: tuple[HostPort, ...] = ()
    fake_provider: HostPort | None = None
    store: str | None = None
    cache_mode: str | None = None
    semantic_store: str | None = None
    otlp_endpoint: str | None = None
    trace_sampling_percent: float = 100.0


def deployable(source: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    """A copy of `source` (a parsed envoy.yaml) wired as `deployment` says."""
    _check_choices(deployment)
    out = render(
        source,
        listener_port=deployment.listen.port if deployment.listen else None,
        admin_port=deployment.admin.port if deployment.admin else None,
        fake_provider_port=deployment.fake_provider.port if deployment.fake_provider else None,
    )
    static = out.get("static_resources") or {}
    if deployment.listen:
        listeners = static.get("listeners") or []
        if not listeners:
            raise RenderError("the configuration has no listener to move")
        listeners[0]["address"] = deployment.listen.socket_address()
    if deployment.admin:
        out["admin"]["address"] = deployment.admin.socket_address()
    clusters = {c.get("name"): c for c in static.get("clusters") or []}
    if deployment.extproc:
        if EXTPROC_CLUSTER not in clusters:
            raise RenderError(f"the configuration has no `{EXTPROC_CLUSTER}` cluster to point at the ext_proc service")
        _resolve_by_dns(clusters[EXTPROC_CLUSTER], deployment.extproc)
    if deployment.fake_provider:
        for cluster in clusters.values():
            _move_fake_provider(cluster, deployment.fake_provider)
    _switch_stores(out, deployment)
    if deployment.otlp_endpoint:
        try:
            out = with_tracing(out, deployment.otlp_endpoint, deployment.trace_sampling_percent)
        except ValueError as exc:
            raise RenderError(str(exc)) from None
    return out


def _check_choices(deployment: Deployment) -> None:
    for value, allowed, what in (
        (deployment.store, STORE_KINDS, "store"),
        (deployment.cache_mode, MODES, "cache mode"),
        (deployment.semantic_store, SEMANTIC_STORES, "semantic store"),
    ):
        if value is not None and value not in allowed:
            raise RenderError(f"the {what} must be one of {', '.join(allowed)}; got {value!r}")


def _resolve_by_dns(cluster: dict[str, Any], addresses: tuple[HostPort, ...]) -> None:
    """Point the ext_proc cluster at `addresses`, each resolved by DNS (every replica behind a name)."""
    cluster["type"] = "STRICT_DNS"
    cluster["dns_lookup_family"] = "V4_PREFERRED"
    cluster["load_assignment"]["endpoints"] = [
        {"lb_endpoints": [{"endpoint": {"address": address.socket_address()}} for address in addresses]}
    ]


def _move_fake_provider(cluster: dict[str, Any], where: HostPort) -> None:
    """Send the fake provider's endpoints of `cluster` to `where` (host and api_base); its port is already set."""
    endpoints = fake_provider_endpoints(cluster)
    if not endpoints:
        return
    if not is_ip_address(where.host) and cluster.get("type", "STATIC") == "STATIC":
        cluster["type"] = "STRICT_DNS"
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    for lb_endpoint in endpoints:
        lb_endpoint["endpoint"]["address"] = where.socket_address()
        meta = gateway_section(lb_endpoint)
        assert meta is not None, "fake_provider_endpoints found it"
        if meta.get("api_base"):
            parts = urlsplit(meta["api_base"])
            meta["api_base"] = urlunsplit(parts._replace(netloc=str(where)))


def _switch_stores(config: dict[str, Any], deployment: Deployment) -> None:
    """Set the gateway-wide store and cache choices in the virtual host's `llm_gateway` metadata."""
    if not (deployment.store or deployment.cache_mode or deployment.semantic_store):
        return
    meta = tenancy_metadata(config)
    if not meta:
        raise RenderError("no virtual host carries `llm_gateway` metadata, so there is no store or cache to switch on")
    if deployment.store:
        meta.setdefault("store", {})["kind"] = deployment.store
    if deployment.cache_mode:
        meta.setdefault("cache", {})["mode"] = deployment.cache_mode
    if deployment.semantic_store:
        meta.setdefault("cache", {})["semantic_store"] = deployment.semantic_store


