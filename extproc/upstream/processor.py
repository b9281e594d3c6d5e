"""The upstream-level processor: prepares each attempt for the endpoint serving it.

Envoy runs this filter once per upstream attempt (retries and fallbacks to
other priorities included), after the load balancer chose the endpoint. It
sends the headers, with the chosen endpoint's `llm_gateway` metadata and its
cluster as attributes, then the buffered body. The processor rewrites the
request for that endpoint: the provider's model name, its URL path and Host,
and its credentials. It then records the attempt's status and latency in the
attempt log (see `attempts.py`).

Every attempt of a request shares one header map: what an earlier attempt set
(an Anthropic path, an `x-api-key`) is still there on the next. So the path
comes from the route's kind, never from `:path`, and every header the chosen
endpoint may not get is removed (`provider_request.dropped_headers`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from extproc import formats as client_formats
from extproc.config.catalog import Catalog, Endpoint
from extproc.config.fallback_list import FALLBACK_MODEL_KEY
from extproc.decisions import Changes, Reply
from extproc.errors import GatewayError
from extproc.phases import CLUSTER_NAME, REQUEST_BODY, REQUEST_HEADERS, RESPONSE_HEADERS, UPSTREAM_HOST_METADATA, Message
from extproc.telemetry.tracing import NO_TRACE, NoTrace
from extproc.translation import ProviderTranslator
from extproc.upstream import attempts
from extproc.upstream.attempts import Attempt
from extproc.upstream.credentials import Credentials
from extproc.upstream.provider_request import CHAT_PATH, EMBEDDINGS_PATH, for_endpoint

log = logging.getLogger(__name__)

# Router-level metadata: the lowest priority (highest number) a fallback may reach under a cost cap.
MAX_PRIORITY_KEY = "max_priority"
CANONICAL_PATHS = {"chat": CHAT_PATH, "embeddings": EMBEDDINGS_PATH}


class UpstreamProcessor:
    """Handles one upstream attempt."""

    def __init__(
        self,
        credentials: Credentials,
        endpoints: dict[tuple[str, str], Endpoint],
        translators: dict[Endpoint, ProviderTranslator],
        paths: dict[str, str] | None = None,
        trace: NoTrace = NO_TRACE,
    ) -> None:
        self._trace = trace
        self._credentials = credentials
        self._endpoints = endpoints
        self._translators = translators
        # Cluster -> the canonical path its route serves.
        self._paths = paths or {}
        self._path = ""
        self._headers: dict[str, str] = {}
        self._endpoint: Endpoint | None = None
        self._number = 1
        self._started = 0.0
        self._status: int | None = None
        # The client's format, from the router filter's metadata: refusals are answered in it.
        self._client_format: client_formats.ClientFormat = client_formats.OPENAI

    async def process(self, message: Message) -> Reply | Changes:
        """The decision for one message of the attempt."""
        if message.phase == REQUEST_HEADERS:
            result = await self.request_headers(message.headers, message.attributes, message.metadata)
        elif message.phase == REQUEST_BODY:
            result = await self.request_body(message.body)
        elif message.phase == RESPONSE_HEADERS:
            result = await self.response_headers(message.headers)
        else:
            return Changes()
        if isinstance(result, Reply):
            result.metadata = self.outcome(result.status)
        return result

    def failed(self) -> Reply:
        """The 500 for a failure of the gateway itself, in the client's format."""
        return self.internal_error()

    def close(self) -> None:
        """The attempt's stream has ended: end its trace."""
        self._trace.end_attempt(*self.summary())

    async def request_headers(
        self, headers: dict[str, str], attributes: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> Reply | Changes:
        """Find the endpoint Envoy chose for this attempt; the body comes next."""
        self._started = time.monotonic()
        self._headers = headers
        self._client_format = client_formats.named((metadata or {}).get("client_format"))
        self._number = attempts.attempt_number(headers)
        meta = attributes.get(UPSTREAM_HOST_METADATA) or {}
        cluster = attributes.get(CLUSTER_NAME, "")
        self._endpoint = self._endpoints.get((cluster, endpoint_key(meta)))
        self._path = self._paths.get(cluster) or headers.get(":path", "")
        if self._endpoint is None:
            return self._reply(
                GatewayError(502, "The gateway does not know the endpoint chosen for this attempt.", code="unknown_endpoint")
            )
        # Logged now, not with the body: a refused connection ends the attempt before that.
        started = Attempt(self._number, self._endpoint.provider, self._endpoint.upstream_model)
        max_priority = (metadata or {}).get(MAX_PRIORITY_KEY)
        if isinstance(max_priority, (int, float)) and self._endpoint.priority > max_priority:
            # The router capped the retries at the affordable levels; this attempt got here
            # anyway because a cheaper level is ejected. Stop rather than pay more.
            return self._reply(
                GatewayError(
                    400,
                    f"The attempts within this request's cost cap failed (see x-gateway-attempts); falling "
                    f"back to {self._endpoint.upstream_model!r} could cost more than the cap allows.",
                    code="cost_limit_exceeded",
                )
            )
        return Changes(metadata=dict(started.metadata_entry()))

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
            request = for_endpoint(self._translators[endpoint], endpoint, self._path, payload, key, self._headers)
        except orjson.JSONDecodeError:
            return self._reply(GatewayError(400, "The request body is not valid JSON.", code="invalid_json"))
        except GatewayError as error:
            log.warning("upstream attempt to %s refused: %s", endpoint.cluster, error.message)
            return self._reply(error)
        # x-envoy-attempt-count, the client's headers, an earlier attempt's credentials: all dropped.
        return Changes(set_headers=request.headers, remove_headers=request.remove_headers, body=request.body)

    async def response_headers(self, headers: dict[str, str]) -> Changes:
        """Record this attempt's status and latency in the attempt log."""
        try:
            status = int(headers.get(":status", "0"))
        except ValueError:
            status = 0
        self._status = status
        return Changes(metadata=self.outcome(status))

    def summary(self) -> tuple[str | None, str | None, int, int | None]:
        """Provider, model, attempt number and status of this attempt, for its trace."""
        endpoint = self._endpoint
        return (endpoint.provider if endpoint else None, endpoint.upstream_model if endpoint else None,
                self._number, self._status)  # fmt: skip

    def internal_error(self) -> Reply:
        """The 500 for a failure of the gateway itself, in the client's format."""
        return self._reply(GatewayError(500, "The gateway failed to prepare this attempt.", code="internal_error"))

    def _reply(self, error: GatewayError) -> Reply:
        return client_formats.error_reply(self._client_format, error)

    def outcome(self, status: int) -> dict[str, object] | None:
        """The attempt-log entry of this attempt, ended with `status` (also for the gateway's own refusals)."""
        endpoint = self._endpoint
        if endpoint is None:
            return None
        latency_ms = (time.monotonic() - self._started) * 1000
        done = Attempt(self._number, endpoint.provider, endpoint.upstream_model, status, latency_ms)
        return dict(done.metadata_entry())


def endpoints_by_cluster(catalog: Catalog) -> dict[tuple[str, str], Endpoint]:
    """Every endpoint of every model route, keyed by (cluster, LiteLLM model); the fallback-list cluster's
    copies by (cluster, "<model route>|<LiteLLM model>"), since two routes may serve one LiteLLM model."""
    found = {(e.cluster, e.model): e for route in catalog.routes.values() for e in route.endpoints}
    fallback = catalog.fallback_list
    for copies in fallback.endpoints.values() if fallback is not None else ():
        found.update({(e.cluster, f"{e.route}|{e.model}"): e for e in copies})
    return found


def endpoint_key(host_metadata: dict[str, Any]) -> str:
    """How `endpoints_by_cluster` names the endpoint whose `llm_gateway` metadata this is."""
    model = str(host_metadata.get("model", ""))
    route = host_metadata.get(FALLBACK_MODEL_KEY)
    return f"{route}|{model}" if route else model


def canonical_paths(catalog: Catalog) -> dict[str, str]:
    """Cluster -> the canonical (OpenAI) path of the route it serves (the fallback list's: chat)."""
    paths = {route.cluster: CANONICAL_PATHS[route.kind] for route in catalog.routes.values()}
    if catalog.fallback_list is not None:
        paths[catalog.fallback_list.cluster] = CANONICAL_PATHS["chat"]
    return paths
