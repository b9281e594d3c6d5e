"""The request as the router filter first sees it: which endpoint it calls, and its body read and validated.

Plain functions over the request context: they set what they learn on it and
raise `GatewayError` (in the client's format, by the processor) for what is
wrong.
"""

from __future__ import annotations

from typing import Any

import orjson

from extproc.config.catalog import Catalog, Endpoint
from extproc.context import RequestContext
from extproc.decisions import Changes
from extproc.endpoints import EndpointSpec, ParsedRequest, Registry
from extproc.errors import GatewayError, clipped, shown
from extproc.translation import ProviderTranslator
from extproc.upstream.credentials import Credentials
from extproc.upstream.provider_request import for_endpoint


def read_headers(ctx: RequestContext, headers: dict[str, str], peer: str, catalog: Catalog) -> str:
    """The request line on the context; the path without a fail-open lane's prefix."""
    ctx.headers = headers
    ctx.method = headers.get(":method", "")
    ctx.path = headers.get(":path", "")
    ctx.request_id = headers.get("x-request-id", "")
    ctx.peer = peer
    ctx.lane = catalog.lane_for(ctx.path)
    if ctx.lane is None:
        return ctx.path
    ctx.decisions.append(f"lane:{ctx.lane.prefix}")
    return ctx.path[len(ctx.lane.prefix):]


def endpoint_for(ctx: RequestContext, registry: Registry, path: str, end_of_stream: bool) -> EndpointSpec:
    """The forwarded endpoint `path` names (without a lane's prefix); 404, 405, 400 or 415 when the
    request cannot be one."""
    spec = registry.forwarded(ctx.method, path)
    if spec is None:
        raise _unknown_endpoint(ctx, registry, path)
    if end_of_stream:
        raise GatewayError(400, "The request body is missing.", code="invalid_request")
    content_type = ctx.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if content_type not in ("application/json", ""):
        message = f"Content-Type must be application/json, not {shown(content_type)}."
        raise GatewayError(415, message, code="unsupported_media_type")
    return spec


def read_body(ctx: RequestContext, spec: EndpointSpec, body: bytes) -> None:
    """The body decoded and in the canonical format on the context, its gateway extensions (`x_gateway`,
    `prompt`) taken out; 400 when it cannot be. `validate_body` checks it next."""
    ctx.body_size = len(body)
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    options = _pop_gateway_options(decoded)
    task_type, fallback_models = _pop_routing_fields(decoded, options)
    canonical = spec.to_canonical(decoded)
    named_prompt = isinstance(canonical, dict) and "prompt" in canonical
    ctx.prompt_reference = canonical.pop("prompt") if named_prompt else None
    ctx.gateway_options, ctx.client_body, ctx.body, ctx.kind = options, decoded, canonical, spec.kind
    ctx.task_type, ctx.fallback_models = task_type, fallback_models
    routing_fields = task_type is not None or fallback_models is not None
    ctx.body_changed = bool(options) or canonical is not decoded or named_prompt or routing_fields


def validate_body(ctx: RequestContext, spec: EndpointSpec) -> ParsedRequest:
    """The canonical body checked as the endpoint's request (after any prompt completed it); 400 when it is not."""
    parsed = spec.parse(ctx.body)
    ctx.requested_model, ctx.stream, ctx.dry_run = parsed.model, parsed.stream, parsed.dry_run
    ctx.client_wants_stream_usage = parsed.stream_usage
    return parsed


def upstream_changes(
    ctx: RequestContext,
    spec: EndpointSpec,
    parsed: ParsedRequest,
    translators: dict[Endpoint, ProviderTranslator],
    credentials: Credentials,
) -> Changes:
    """The request for Envoy's router: the model header, the path, and the body when it changed; on a
    cluster without an upstream filter, the request prepared for its only endpoint (GatewayError when
    it cannot be)."""
    assert ctx.body is not None
    changes = Changes(set_headers=ctx.upstream_headers, clear_route_cache=True, lb_metadata=ctx.lb_metadata)
    body_changed = spec.prepare_upstream(ctx.body, parsed) or ctx.body_changed
    if spec.upstream_path != ctx.path:
        changes.set_headers[":path"] = spec.upstream_path
    route = ctx.route
    if route is not None and not route.per_attempt and route.endpoints:
        endpoint = route.endpoints[0]
        # The router still reads x-envoy-* after this filter (x-envoy-max-retries...).
        incoming = [name for name in ctx.headers if not name.startswith("x-envoy-")]
        key = credentials.api_key(endpoint)
        prepared = for_endpoint(translators[endpoint], endpoint, spec.upstream_path, ctx.body, key, incoming)
        changes.set_headers.update(prepared.headers)
        changes.remove_headers.extend(prepared.remove_headers)
        changes.body = prepared.body
    elif body_changed:
        changes.replace_body(orjson.dumps(ctx.body))
    return changes


def _unknown_endpoint(ctx: RequestContext, registry: Registry, path: str) -> GatewayError:
    where = clipped(ctx.path.split("?", 1)[0])
    method = clipped(ctx.method, 16)
    if registry.knows_path(path.split("?", 1)[0]):
        return GatewayError(405, f"Method {method} is not allowed on {where}.", code="method_not_allowed")
    return GatewayError(404, f"Unknown endpoint {method} {where}.", code="unknown_endpoint")


def _pop_routing_fields(body: Any, options: dict[str, Any]) -> tuple[Any, Any]:
    """Remove `task_type` and `models` (routing's, checked by the routing stage) from a request body of
    either client format, before its schema sees them; the seed API sends the task as `x_gateway.task`."""
    if not isinstance(body, dict):
        return None, None
    task_type = body.pop("task_type", None)
    if task_type is None:
        task_type = options.get("task")
    return task_type, body.pop("models", None)


def _pop_gateway_options(body: Any) -> dict[str, Any]:
    """Remove the `x_gateway` extension object from a request body; the provider never sees it."""
    if not isinstance(body, dict) or "x_gateway" not in body:
        return {}
    options = body.pop("x_gateway")
    if not isinstance(options, dict):
        raise GatewayError(400, "`x_gateway` must be an object.", code="invalid_request", param="x_gateway")
    return options
