"""`GET /metrics`: the service's Prometheus totals, through Envoy, to the gateway's own host.

The totals name tenants and their spend, so they are answered only to
clients on the gateway's host; scrape from elsewhere through the service's
own metrics port (`llm-gateway serve --metrics-port`), kept off public networks.
"""

from __future__ import annotations

from .. import metrics
from ..catalog import Catalog


class MetricsEndpoint:
    """Prometheus text exposition of every service process's counts."""

    method = "GET"
    path = "/metrics"
    content_type = metrics.CONTENT_TYPE
    loopback_only = True
    # Rendering many tenants' series takes tens of milliseconds.
    blocking = True

    def answer(self, catalog: Catalog) -> bytes:
        """The current totals, summed across processes."""
        body, _ = metrics.render()
        return body
