"""`GET /metrics`: the service's Prometheus totals, through Envoy, to the gateway's own host.

The totals name tenants and their spend, so they are answered only to
clients on the gateway's host; scrape from elsewhere through the service's
own metrics port (`llm-gateway serve --metrics-port`), kept off public networks.
"""

from __future__ import annotations

import asyncio

from .. import metrics


class MetricsEndpoint:
    """Prometheus text exposition of every service process's counts."""

    method = "GET"
    path = "/metrics"
    content_type = metrics.CONTENT_TYPE
    loopback_only = True

    async def answer(self, gateway: object, ctx: object) -> bytes:
        """The current totals, summed across processes (off the event loop: many tenants' series take tens of ms)."""
        body, _ = await asyncio.to_thread(metrics.render)
        return body
