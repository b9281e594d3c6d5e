"""The registry of API endpoints the gateway understands, built once at start-up.

One generic processor serves every endpoint; what differs between endpoints
(how to read the model and stream flag, how to validate, where usage is) is
described by an `EndpointSpec`. Paths not in the registry are refused with a
404 in OpenAI error JSON.
"""

from __future__ import annotations

from extproc.config.catalog import Catalog
from extproc.endpoints.base import EndpointSpec, LocalEndpoint, LocalResource, ParsedRequest
from extproc.endpoints.cache_purge import CachePurge, Purger
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.endpoints.cost_estimate import CostEstimate
from extproc.endpoints.embeddings import Embeddings
from extproc.endpoints.messages import Messages
from extproc.endpoints.metrics import MetricsEndpoint
from extproc.endpoints.models import ModelsList
from extproc.endpoints.prompts import PromptRegistry
from extproc.endpoints.provider_status import ProviderStatus
from extproc.endpoints.recent_requests import RecentRequestsList
from extproc.endpoints.seed_query import SeedQueryEndpoint
from extproc.endpoints.tenant_limits import TenantLimits
from extproc.playground.files import StaticFiles
from extproc.prompts.resolver import PromptResolver
from extproc.seed_api import ModelChoices
from extproc.telemetry.recent import RecentRequests
from extproc.tenancy.limits import Limits
from extproc.tenancy.settings import Settings

__all__ = ["EndpointSpec", "LocalEndpoint", "LocalResource", "ParsedRequest", "Registry", "default_registry"]


class Registry:
    """Endpoint specs by method and path: forwarded upstream, or answered locally (one path, or an API
    under a prefix)."""

    def __init__(
        self,
        forwarded: list[EndpointSpec],
        local: list[LocalEndpoint],
        resources: tuple[LocalResource, ...] = (),
        static: StaticFiles | None = None,
    ) -> None:
        self._forwarded = {(spec.method, spec.path): spec for spec in forwarded}
        self._local = {(spec.method, spec.path): spec for spec in local}
        self._paths = {path for _, path in (*self._forwarded, *self._local)}
        self._resources = resources
        self._static = static

    def static(self, path: str) -> StaticFiles | None:
        """The playground's static files when `path` is theirs (answered without a key: they hold no data)."""
        return self._static if self._static is not None and self._static.handles(path) else None

    def forwarded(self, method: str, path: str) -> EndpointSpec | None:
        """The spec of a forwarded endpoint (query string ignored), if registered."""
        return self._forwarded.get((method, path.split("?", 1)[0]))

    def local(self, method: str, path: str) -> LocalEndpoint | None:
        """The locally answered endpoint for this method and path, if registered."""
        return self._local.get((method, path.split("?", 1)[0]))

    def resource(self, path: str) -> LocalResource | None:
        """The locally answered API whose prefix `path` is under (query string ignored), if any."""
        bare = path.split("?", 1)[0]
        return next((resource for resource in self._resources if resource.handles(bare)), None)

    def knows_path(self, path: str) -> bool:
        """True when some method is registered for the path (so a wrong method is a 405)."""
        return path.split("?", 1)[0] in self._paths


def default_registry(
    catalog: Catalog,
    settings: Settings,
    limits: Limits,
    cache: Purger | None,
    envoy_admin_url: str | None,
    prompts: PromptResolver | None = None,
    recent: RecentRequests | None = None,
    static: StaticFiles | None = None,
) -> Registry:
    """Every endpoint this build serves; the local ones answer from what they are given here."""
    models = ModelChoices.from_catalog(catalog)
    local: list[LocalEndpoint] = [
        ModelsList(catalog), TenantLimits(settings, limits), CachePurge(cache), MetricsEndpoint(envoy_admin_url),
        ProviderStatus(catalog, envoy_admin_url),
    ]  # fmt: skip
    if recent is not None:
        local.append(RecentRequestsList(recent))
    return Registry(
        forwarded=[
            ChatCompletions(), Messages(), Embeddings(), CostEstimate(models),
            SeedQueryEndpoint("/api/query", models), SeedQueryEndpoint("/v1/gateway/query", models),
        ],  # fmt: skip
        local=local,
        resources=(PromptRegistry(prompts),) if prompts is not None else (),
        static=static,
    )
