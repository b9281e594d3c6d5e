"""`GET /metrics`: the service's Prometheus totals and Envoy's own statistics, through Envoy, to operators.

One scrape gives both: the service's series (summed across its processes)
and, below them, Envoy's `/stats/prometheus` (connections, upstream requests
per cluster, retries, local rate limits), read from Envoy's admin interface.

The totals name tenants and their spend, so they are answered to admin keys
only (from any peer), and to keyless peers on the gateway's own host only when
envoy.yaml allows unauthenticated local scrapes
(`auth.loopback_metrics_without_key: true`). The service's own metrics port
(`llm-gateway serve --metrics-port`) is another way in, to be kept off public
networks.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from extproc.context import RequestContext
from extproc.telemetry import metrics
from extproc.tenancy.auth import Access

log = logging.getLogger(__name__)

# Envoy answers its admin stats in milliseconds; a scrape must not hang on a stuck admin.
ENVOY_STATS_TIMEOUT_S = 2.0


class MetricsEndpoint:
    """Prometheus text exposition of every service process's counts, then Envoy's."""

    method = "GET"
    path = "/metrics"
    content_type = metrics.CONTENT_TYPE
    access = Access.SCRAPE

    def __init__(self, envoy_admin_url: str | None) -> None:
        # Envoy's admin interface, whose statistics follow the service's (None: the service's only).
        self._envoy_admin_url = envoy_admin_url

    async def answer(self, ctx: RequestContext) -> bytes:
        """The current totals, summed across processes (off the event loop: many tenants' series take tens of ms)."""
        body, _ = await asyncio.to_thread(metrics.render)
        if self._envoy_admin_url:
            body += await envoy_stats(self._envoy_admin_url)
        return body


async def envoy_stats(admin_url: str) -> bytes:
    """Envoy's statistics in Prometheus text (only those ever used), or a comment saying why not."""
    url = f"{admin_url}/stats/prometheus?usedonly"
    try:
        timeout = aiohttp.ClientTimeout(total=ENVOY_STATS_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            return await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("GET /metrics: Envoy's statistics at %s are unavailable: %s", admin_url, exc)
        return b"# Envoy's statistics are unavailable from its admin interface.\n"
