"""The router-level processor: one generic processor for every LLM endpoint.

Envoy opens one ext_proc stream per HTTP request; `server.py` creates one
`RouterProcessor` per stream and calls the method of each phase in the order
Envoy sends them. What differs between endpoints is described by their
`EndpointSpec`; what differs between policies lives in the stages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from .attributes import gateway_metadata
from .catalog import Catalog, Endpoint, ModelRoute
from .context import RequestContext
from .credentials import Credentials
from .decisions import Changes, Reply
from .endpoints import EndpointSpec, Registry
from .errors import GatewayError, error_body
from .provider_request import for_endpoint
from .sse import SSEParser
from .stages import Stage

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-gateway-request-id"
SERVED_MODEL_HEADER = "x-gateway-served-model"
PROVIDER_HEADER = "x-gateway-provider"
UPSTREAM_HOST_METADATA = "xds.upstream_host_metadata"


@dataclass(slots=True)
class Gateway:
    """Everything built once at start-up and shared by every request."""

    catalog: Catalog
    registry: Registry
    stages: list[Stage]
    credentials: Credentials


class RouterProcessor:
    """Handles the phases of one HTTP request at the router-level ext_proc filter."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self.ctx = RequestContext()
        self._spec: EndpointSpec | None = None
        self._sse: SSEParser | None = None

    # --- request -----------------------------------------------------------

    async def request_headers(self, headers: dict[str, str], end_of_stream: bool) -> Reply | Changes:
        """Pick the endpoint spec by path; answer locally served and unknown paths."""
        ctx = self.ctx
        ctx.headers = headers
        ctx.method = headers.get(":method", "")
        ctx.path = headers.get(":path", "")
        ctx.request_id = headers.get("x-request-id", "")
        registry = self._gateway.registry
        local = registry.local(ctx.method, ctx.path)
        if local is not None:
            ctx.decisions.append(f"local:{local.path}")
            return Reply.json(200, local.answer(self._gateway.catalog), self._id_header())
        spec = registry.forwarded(ctx.method, ctx.path)
        if spec is None:
            return self._reject(self._unknown_endpoint())
        self._spec = spec
        if end_of_stream:
            return self._reject(GatewayError(400, "The request body is missing.", code="invalid_request"))
        content_type = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if content_type not in ("application/json", ""):
            return self._reject(
                GatewayError(415, f"Content-Type must be application/json, not {content_type!r}.", code="unsupported_media_type")
            )
        return Changes()

    async def request_body(self, body: bytes) -> Reply | Changes:
        """Validate the body, run the request stages, and route."""
        ctx = self.ctx
        spec = self._spec
        if spec is None:  # headers were answered already; Envoy should not send a body
            return Changes()
        ctx.raw_body = body
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return self._reject(GatewayError(400, f"The request body is not valid JSON: {exc}.", code="invalid_json"))
        try:
            parsed = spec.parse(decoded)
        except GatewayError as error:
            return self._reject(error)
        ctx.body = decoded
        ctx.requested_model = parsed.model
        ctx.stream = parsed.stream
        ctx.client_wants_stream_usage = parsed.stream_usage
        for stage in self._gateway.stages:
            reply = await stage.on_request(ctx)
            if reply is not None:
                reply.headers.update(self._id_header())
                return reply
        changes = Changes(set_headers=ctx.upstream_headers, clear_route_cache=True, metadata=self._request_metadata())
        body_changed = spec.prepare_upstream(decoded, parsed) or ctx.body_changed
        route = ctx.route
        if route is not None and not route.per_attempt and route.endpoints:
            # No upstream filter on this cluster: prepare the request for its only endpoint here.
            try:
                endpoint = route.endpoints[0]
                prepared = for_endpoint(endpoint, ctx.path, decoded, self._gateway.credentials.api_key(endpoint))
            except GatewayError as error:
                return self._reject(error)
            changes.set_headers.update(prepared.headers)
            changes.body = prepared.body
        elif body_changed:
            changes.replace_body(orjson.dumps(decoded))
        return changes

    # --- response ----------------------------------------------------------

    async def response_headers(
        self, headers: dict[str, str], end_of_stream: bool, attributes: dict[str, Any]
    ) -> Reply | Changes:
        """Note status and serving endpoint; switch event streams to chunk-by-chunk processing."""
        ctx = self.ctx
        ctx.response_headers = headers
        ctx.status = _status(headers)
        ctx.endpoint = self._serving_endpoint(attributes)
        self._set_identity_headers()
        if self._spec is None:
            return Changes(set_headers=dict(ctx.client_headers))
        is_sse = headers.get("content-type", "").startswith("text/event-stream")
        if is_sse and ctx.status == 200 and not end_of_stream:
            self._sse = SSEParser()
            ctx.decisions.append("stream")
            # The stream is rewritten on the fly: its length is no longer known.
            return Changes(set_headers=dict(ctx.client_headers), remove_headers=["content-length"], stream_body=True)
        if end_of_stream:
            await self._finish()
            return Changes(set_headers=dict(ctx.client_headers), metadata=self._response_metadata())
        # Buffered: headers go out with the body, once usage is known.
        return Changes()

    async def response_body(self, chunk: bytes, end_of_stream: bool) -> Changes:
        """Read usage (buffered JSON or the stream's usage event) and finish the request."""
        if self._sse is not None:
            return await self._stream_chunk(chunk, end_of_stream)
        ctx = self.ctx
        if self._spec is None:
            # A reply Envoy made before this filter saw the request (a local rate
            # limit, say): its own local_reply_config already shapes the body.
            return Changes()
        changes = Changes()
        if ctx.status is not None and ctx.status >= 400:
            changes = _client_error_body(ctx.status, chunk)
        elif self._spec is not None and chunk:
            try:
                payload = orjson.loads(chunk)
            except orjson.JSONDecodeError:
                log.warning("request %s: upstream answered %s with a body that is not JSON", ctx.request_id, ctx.status)
                payload = None
                changes = Changes(set_headers={"content-type": "application/json", ":status": "502"}).replace_body(
                    error_body(502, "The model provider sent a malformed answer.", code="bad_upstream_response")
                )
                ctx.status = 502
            if isinstance(payload, dict):
                ctx.usage = self._spec.usage(payload)
        await self._finish()
        changes.set_headers.update(ctx.client_headers)
        changes.metadata = self._response_metadata()
        return changes

    async def _stream_chunk(self, chunk: bytes, end_of_stream: bool) -> Changes:
        ctx = self.ctx
        assert self._sse is not None and self._spec is not None
        strip_usage = not ctx.client_wants_stream_usage
        out = bytearray() if strip_usage else None
        for raw_event, data in self._sse.feed(chunk):
            keep = True
            if data is not None and b'"usage"' in data:
                try:
                    payload = orjson.loads(data)
                except orjson.JSONDecodeError:
                    payload = None
                if isinstance(payload, dict):
                    usage = self._spec.usage(payload)
                    if usage is not None:
                        ctx.usage = usage
                        # The usage chunk (choices == []) was asked for by the gateway, not the client.
                        keep = not (strip_usage and payload.get("choices") == [])
            if out is not None and keep:
                out += raw_event
        if not end_of_stream:
            return Changes(body=bytes(out)) if out is not None and bytes(out) != chunk else Changes()
        if out is not None:
            out += self._sse.remainder()
        await self._finish()
        changes = Changes(metadata=self._response_metadata())
        if out is not None and bytes(out) != chunk:
            changes.body = bytes(out)
        return changes

    # --- helpers -------------------------------------------------------------

    async def _finish(self) -> None:
        for stage in self._gateway.stages:
            await stage.on_response(self.ctx)

    def _reject(self, error: GatewayError) -> Reply:
        self.ctx.decisions.append(f"rejected:{error.code or error.status}")
        return Reply.from_error(error, self._id_header())

    def _unknown_endpoint(self) -> GatewayError:
        ctx = self.ctx
        path = ctx.path.split("?", 1)[0]
        if self._gateway.registry.knows_path(path):
            return GatewayError(405, f"Method {ctx.method} is not allowed on {path}.", code="method_not_allowed")
        return GatewayError(404, f"Unknown endpoint {ctx.method} {path}.", code="unknown_endpoint")

    def _id_header(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: self.ctx.request_id} if self.ctx.request_id else {}

    def _serving_endpoint(self, attributes: dict[str, Any]) -> Endpoint | None:
        route: ModelRoute | None = self.ctx.route
        if route is None or not route.endpoints:
            return None
        meta = gateway_metadata(attributes.get(UPSTREAM_HOST_METADATA, ""))
        model = meta.get("model")
        for endpoint in route.endpoints:
            if endpoint.model == model:
                return endpoint
        return route.endpoints[0]

    def _set_identity_headers(self) -> None:
        ctx = self.ctx
        ctx.client_headers.update(self._id_header())
        if ctx.endpoint is not None:
            ctx.client_headers[SERVED_MODEL_HEADER] = ctx.endpoint.upstream_model
            ctx.client_headers[PROVIDER_HEADER] = ctx.endpoint.provider

    def _request_metadata(self) -> dict[str, object]:
        ctx = self.ctx
        return {
            "tenant": ctx.tenant,
            "requested_model": ctx.requested_model,
            "route": ctx.route.name if ctx.route else None,
            "stream": ctx.stream,
        }

    def _response_metadata(self) -> dict[str, object]:
        ctx = self.ctx
        meta: dict[str, object] = {
            **self._request_metadata(),
            "served_model": ctx.served_model,
            "provider": ctx.endpoint.provider if ctx.endpoint else None,
            "decisions": list(ctx.decisions),
            "cache": "bypass",
        }
        if ctx.usage is not None:
            meta["prompt_tokens"] = ctx.usage.prompt_tokens
            meta["completion_tokens"] = ctx.usage.completion_tokens
        if ctx.cost_usd is not None:
            meta["cost_usd"] = ctx.cost_usd
        return meta


def _status(headers: dict[str, str]) -> int | None:
    try:
        return int(headers.get(":status", ""))
    except ValueError:
        return None


def _client_error_body(status: int, body: bytes) -> Changes:
    """Keep an upstream error that is already OpenAI error JSON; wrap anything else."""
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return Changes()
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        message = payload["error"]
    else:
        message = f"The model provider answered with HTTP {status}."
    return Changes(set_headers={"content-type": "application/json"}).replace_body(
        error_body(status, message, code="upstream_error")
    )
