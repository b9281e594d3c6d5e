"""The registry of API endpoints the gateway understands, built once at start-up.

One generic processor serves every endpoint; what differs between endpoints
(how to read the model and stream flag, how to validate, where usage is) is
described by an `EndpointSpec`. Paths not in the registry are refused with a
404 in OpenAI error JSON.
"""

from __future__ import annotations

from extproc.config.catalog import Catalog
from extproc.endpoints.base import EndpointSpec, LocalEndpoint, ParsedRequest
from extproc.endpoints.cache_purge import CachePurge, Purger
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.endpoints.cost_estimate import CostEstimate
from extproc.endpoints.embeddings import Embeddings
from extproc.endpoints.messages import Messages
from extproc.endpoints.metrics import MetricsEndpoint
from extproc.endpoints.models import ModelsList
from extproc.endpoints.tenant_limits import TenantLimits
from extproc.tenancy.limits import Limits
from extproc.tenancy.settings import Settings

__all__ = ["EndpointSpec", "LocalEndpoint", "ParsedRequest", "Registry", "default_registry"]


class Registry:
    """Endpoint specs by method and path: forwarded upstream, or answered locally."""

    def __init__(self, forwarded: list[EndpointSpec], local: list[LocalEndpoint]) -> None:
        self._forwarded = {(spec.method, spec.path): spec for spec in forwarded}
        self._local = {(spec.method, spec.path): spec for spec in local}
        self._paths = {path for _, path in (*self._forwarded, *self._local)}

    def forwarded(self, method: str, path: str) -> EndpointSpec | None:
        """The spec of a forwarded endpoint (query string ignored), if registered."""
        return self._forwarded.get((method, path.split("?", 1)[0]))

    def local(self, method: str, path: str) -> LocalEndpoint | None:
        """The locally answered endpoint for this method and path, if registered."""
        return self._local.get((method, path.split("?", 1)[0]))

    def knows_path(self, path: str) -> bool:
        """True when some method is registered for the path (so a wrong method is a 405)."""
        return path.split("?", 1)[0] in self._paths


def default_registry(
    catalog: Catalog, settings: Settings, limits: Limits, cache: Purger | None, envoy_admin_url: str | None
) -> Registry:
    """Every endpoint this build serves; the local ones answer from what they are given here."""
    return Registry(
        forwarded=[ChatCompletions(), Messages(), Embeddings(), CostEstimate()],
        local=[ModelsList(catalog), TenantLimits(settings, limits), CachePurge(cache), MetricsEndpoint(envoy_admin_url)],
    )
