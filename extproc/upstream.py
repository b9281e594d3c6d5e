"""The upstream-level processor: prepares each attempt for the endpoint serving it.

Envoy runs this filter once per upstream attempt (retries and fallbacks to
other priorities included), after the load balancer chose the endpoint. It
sends the headers, with the chosen endpoint's `llm_gateway` metadata and its
cluster as attributes, then the buffered body. The processor rewrites the
request for that endpoint: the provider's model name, its URL path and Host,
and its credentials.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from .attributes import gateway_metadata
from .catalog import Catalog, Endpoint
from .credentials import Credentials
from .decisions import Changes, Reply
from .errors import GatewayError
from .provider_request import for_endpoint
from .translation import ProviderTranslator

log = logging.getLogger(__name__)

UPSTREAM_HOST_METADATA = "xds.upstream_host_metadata"
CLUSTER_NAME = "xds.cluster_name"


class UpstreamProcessor:
    """Handles one upstream attempt."""

    def __init__(
        self,
        credentials: Credentials,
        endpoints: dict[tuple[str, str], Endpoint],
        translators: dict[Endpoint, ProviderTranslator],
    ) -> None:
        self._credentials = credentials
        self._endpoints = endpoints
        self._translators = translators
        self._path = ""
        self._endpoint: Endpoint | None = None

    async def request_headers(self, headers: dict[str, str], attributes: dict[str, Any]) -> Reply | Changes:
        """Find the endpoint Envoy chose for this attempt; the body comes next."""
        self._path = headers.get(":path", "")
        meta = gateway_metadata(attributes.get(UPSTREAM_HOST_METADATA, ""))
        self._endpoint = self._endpoints.get((attributes.get(CLUSTER_NAME, ""), str(meta.get("model", ""))))
        if self._endpoint is None:
            return _reply(
                GatewayError(502, "The gateway does not know the endpoint chosen for this attempt.", code="unknown_endpoint")
            )
        return Changes()

    async def request_body(self, body: bytes) -> Reply | Changes:
        """Rewrite the body and headers for this attempt's endpoint."""
        endpoint = self._endpoint
        if endpoint is None:
            return Changes()
        try:
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise GatewayError(400, "The request body must be a JSON object.", code="invalid_request")
            key = self._credentials.api_key(endpoint)
            request = for_endpoint(self._translators[endpoint], endpoint, self._path, payload, key)
        except orjson.JSONDecodeError:
            return _reply(GatewayError(400, "The request body is not valid JSON.", code="invalid_json"))
        except GatewayError as error:
            log.warning("upstream attempt to %s refused: %s", endpoint.cluster, error.message)
            return _reply(error)
        return Changes(set_headers=request.headers, remove_headers=request.remove_headers, body=request.body)


def endpoints_by_cluster(catalog: Catalog) -> dict[tuple[str, str], Endpoint]:
    """Every endpoint of every model route, keyed by (cluster, LiteLLM model)."""
    return {(e.cluster, e.model): e for route in catalog.routes.values() for e in route.endpoints}


def _reply(error: GatewayError) -> Reply:
    return Reply.from_error(error)
