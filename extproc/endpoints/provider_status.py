"""`GET /api/status`: each provider's health as Envoy sees it (the LLM Proxy seed's status call).

Read from Envoy's admin interface, `/clusters?format=json`: the one view that holds both
what active health checks found and which hosts outlier detection ejected, per host, in the
Envoy that routes the requests (the service keeps no health of its own to drift from it).
Each configured provider endpoint (a cluster's host at its priority) counts once; a provider
is up when all of its endpoints are healthy, degraded when some are, down when none is.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import aiohttp
import orjson

from extproc.config.catalog import Catalog, Endpoint
from extproc.context import RequestContext
from extproc.errors import GatewayError
from extproc.seed_api import status_response
from extproc.tenancy.auth import Access

log = logging.getLogger(__name__)

ENVOY_ADMIN_TIMEOUT_S = 2.0
# Envoy's EDS states a host serves in (a static host is HEALTHY; UNKNOWN until told otherwise).
_SERVING = ("HEALTHY", "UNKNOWN", "DEGRADED", None)
_FAILED = ("failed_active_health_check", "failed_outlier_check", "failed_eds_health", "pending_dynamic_removal")


class ProviderStatus:
    """The configured providers' health, from Envoy's per-host health."""

    method = "GET"
    path = "/api/status"
    content_type = "application/json"
    access = Access.TENANT

    def __init__(self, catalog: Catalog, envoy_admin_url: str | None) -> None:
        # Each provider endpoint once (the fallback-list copies share their route's clusters' hosts).
        endpoints = {(e.cluster, e.priority, e.address): e for r in catalog.routes.values() for e in r.endpoints}
        self._endpoints: tuple[Endpoint, ...] = tuple(endpoints.values())
        self._admin_url = envoy_admin_url

    async def answer(self, ctx: RequestContext) -> bytes:
        """`{"status": ..., "providers": {name: {status, healthy_endpoints, endpoints}}}`."""
        hosts = await self._hosts()
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for endpoint in self._endpoints:
            counts[endpoint.provider][1] += 1
            counts[endpoint.provider][0] += _healthy(endpoint, hosts.get(endpoint.cluster, []))
        return orjson.dumps(status_response({name: (h, t) for name, (h, t) in counts.items()}))

    async def _hosts(self) -> dict[str, list[dict[str, Any]]]:
        """Envoy's host statuses by cluster name; 503 when its admin interface does not answer."""
        if not self._admin_url:
            raise _unavailable("no Envoy admin address is configured")
        url = f"{self._admin_url}/clusters?format=json"
        try:
            timeout = aiohttp.ClientTimeout(total=ENVOY_ADMIN_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
                response.raise_for_status()
                listing = orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            log.warning("GET /api/status: Envoy's clusters at %s are unavailable: %s", self._admin_url, exc)
            raise _unavailable("Envoy's admin interface did not answer") from None
        return {
            status.get("name", ""): list(status.get("host_statuses") or [])
            for status in listing.get("cluster_statuses") or []
            if isinstance(status, dict)
        }


def _healthy(endpoint: Endpoint, hosts: list[dict[str, Any]]) -> bool:
    """True when a host of the endpoint's cluster, at its priority and address, serves."""
    at_level = [h for h in hosts if int(h.get("priority") or 0) == endpoint.priority]
    named = [h for h in at_level if endpoint.address in (_address(h), h.get("hostname"))]
    return any(_serves(host) for host in (named or at_level))


def _address(host: dict[str, Any]) -> str:
    socket = (host.get("address") or {}).get("socket_address") or {}
    return f"{socket.get('address')}:{socket.get('port_value')}"


def _serves(host: dict[str, Any]) -> bool:
    health = host.get("health_status") or {}
    return health.get("eds_health_status") in _SERVING and not any(health.get(flag) for flag in _FAILED)


def _unavailable(why: str) -> GatewayError:
    return GatewayError(503, f"Provider health is unknown right now: {why}. Retry shortly.", code="status_unavailable")
