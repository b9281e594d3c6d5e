"""Tracing: the service's spans join the trace Envoy starts, exported over OTLP.

Envoy's OpenTelemetry tracer (the HTTP connection manager's `tracing`)
starts a span per request, opens each ext_proc stream as a child span, and
sends that span's context in the stream's gRPC metadata (W3C `traceparent`).
The service continues the trace there:

- one span per ext_proc stream: `chat gpt-4o-mini` for a request at the
  router filter, `attempt openai/gpt-4o-mini` for an upstream attempt;
- a child span per request stage (`stage auth`, `stage routing`, ...), so a
  trace shows where the service's time went;
- each decision as an event on the span that made it (`route`, `cache`,
  `limits`, `redacted`, `rejected`, ...), with the access log's wording.

Spans carry the GenAI semantic conventions' attributes (`gen_ai.*`) and the
gateway's own (`llm_gateway.*`): models, provider, tenant, token counts,
cost, cache outcome, status, the versioned prompt's name and version. Never a
prompt's text, a completion or a key.

Where spans go is read from the same envoy.yaml: the service exports to the
collector Envoy's tracer exports to (the cluster its `grpc_service` names),
unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT says
otherwise. Sampling is Envoy's: the service records a span only when the
parent's context says sampled. Without a tracer in envoy.yaml (and no
variable), nothing is traced and requests pay nothing for it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extproc.config.envoy_yaml import is_ip_address, iter_connection_managers
from extproc.decisions import CLIENT_DISCONNECTED
from extproc.errors import clipped
from extproc.telemetry.metrics import semconv_provider

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from extproc.context import RequestContext

log = logging.getLogger(__name__)

ENVOY_TRACER = "envoy.tracers.opentelemetry"
# The cluster `with_tracing` adds for the collector.
COLLECTOR_CLUSTER = "opentelemetry_collector"
SERVICE_NAME = "llm-gateway-extproc"
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# W3C trace context keys in the ext_proc stream's gRPC metadata.
_PROPAGATED = ("traceparent", "tracestate")


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Where the service sends its spans (None: tracing off)."""

    endpoint: str | None = None
    service_name: str = SERVICE_NAME
    # Whether a stream without a trace context from Envoy starts a trace of its own. Only when
    # Envoy has no tracer: with one, Envoy decides what is traced, and a request it did not trace
    # (a client's malformed traceparent makes Envoy 1.40 trace nothing) is not traced here either.
    trace_without_parent: bool = False


def settings_from_config(config: dict[str, Any], environ: Mapping[str, str] | None = None) -> TracingSettings:
    """The OTLP endpoint: the environment's, else the collector cluster of Envoy's tracer in `config`."""
    environ = os.environ if environ is None else environ
    cluster = envoy_tracer_cluster(config)
    for name in ENDPOINT_ENVS:
        if environ.get(name):
            return TracingSettings(endpoint=environ[name], trace_without_parent=cluster is None)
    if cluster is None:
        return TracingSettings()
    address = _cluster_address(config, cluster)
    return TracingSettings(endpoint=f"http://{address}" if address else None)


def envoy_tracer_cluster(config: dict[str, Any]) -> str | None:
    """The cluster Envoy's OpenTelemetry tracer exports to, if the listener has that tracer."""
    for hcm in iter_connection_managers(config):
        provider = (hcm.get("tracing") or {}).get("provider") or {}
        if provider.get("name") != ENVOY_TRACER:
            continue
        grpc = (provider.get("typed_config") or {}).get("grpc_service") or {}
        cluster = (grpc.get("envoy_grpc") or {}).get("cluster_name")
        if cluster:
            return str(cluster)
    return None


def with_tracing(config: dict[str, Any], collector: str, sampling_percent: float = 100.0) -> dict[str, Any]:
    """`config` with Envoy's OpenTelemetry tracer on every listener, exporting to `collector` (host:port,
    OTLP over gRPC) through a cluster of its own. The service then exports to the same collector."""
    host, _, port = collector.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"the OTLP collector must be host:port, not {collector!r}")
    if not 0 <= sampling_percent <= 100:
        raise ValueError(f"the trace sampling must be a percentage from 0 to 100, not {sampling_percent}")
    out = copy.deepcopy(config)
    static = out.setdefault("static_resources", {})
    clusters = [c for c in static.get("clusters", []) or [] if c.get("name") != COLLECTOR_CLUSTER]
    clusters.append(
        {
            "name": COLLECTOR_CLUSTER,
            "type": "STRICT_DNS" if not is_ip_address(host) else "STATIC",
            "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}},
                }
            },
            "load_assignment": {
                "cluster_name": COLLECTOR_CLUSTER,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                    "socket_address": {"address": host, "port_value": int(port)}}}}]}],
            },
        }  # fmt: skip
    )
    static["clusters"] = clusters
    for hcm in iter_connection_managers(out):
        hcm["tracing"] = {
            "provider": {
                "name": ENVOY_TRACER,
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                    "grpc_service": {"envoy_grpc": {"cluster_name": COLLECTOR_CLUSTER}, "timeout": "1s"},
                    "service_name": "llm-gateway-envoy",
                },
            },
            "random_sampling": {"value": sampling_percent},
            "spawn_upstream_span": True,
        }
    return out


def _cluster_address(config: dict[str, Any], name: str) -> str | None:
    for cluster in (config.get("static_resources") or {}).get("clusters", []) or []:
        if cluster.get("name") != name:
            continue
        for locality in (cluster.get("load_assignment") or {}).get("endpoints", []) or []:
            for lb_endpoint in locality.get("lb_endpoints", []) or []:
                socket = ((lb_endpoint.get("endpoint") or {}).get("address") or {}).get("socket_address") or {}
                if socket.get("address") and socket.get("port_value"):
                    return f"{socket['address']}:{socket['port_value']}"
    return None




# --- the process's tracer ------------------------------------------------------

_tracer: Tracer | None = None
_provider: Any = None


def configure(settings: TracingSettings) -> bool:
    """Set up this process's tracer and OTLP exporter; False (and nothing set up) when tracing is off."""
    global _tracer, _provider
    if not settings.endpoint:
        _tracer = _provider = None
        return False
    # Imported here: a gateway without tracing never loads the SDK.
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    except ImportError as exc:
        # Serve anyway: a gateway that will not start over its traces helps no one.
        log.error(
            "tracing is off: the OTLP exporter cannot load (%s). xds-protos overwrites opentelemetry-proto's "
            "modules when pip installs it last; scripts/install.sh reinstalls opentelemetry-proto after it.",
            exc,
        )
        _tracer = _provider = None
        return False
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased  # noqa: PLC0415

    sampler = ParentBased(ALWAYS_ON if settings.trace_without_parent else ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}), sampler=sampler)
    insecure = not settings.endpoint.startswith("https://")
    # A short export timeout: a missing collector must not hold a stopping process for long.
    exporter = OTLPSpanExporter(endpoint=settings.endpoint, insecure=insecure, timeout=2)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("llm_gateway")
    log.info("tracing: spans go to %s over OTLP/gRPC", settings.endpoint)
    return True


def shutdown() -> None:
    """Flush and stop the exporter (at process exit)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def enabled() -> bool:
    """True when this process traces."""
    return _tracer is not None


# --- spans -------------------------------------------------------------------------

_NO_STAGE = contextlib.nullcontext()


class NoTrace:
    """What a request records when tracing is off: nothing, at the cost of a method call."""

    # The trace's id as 32 hex digits ("" when tracing is off): x-gateway-trace-id.
    trace_id = ""

    def stage(self, name: str, ctx: RequestContext) -> contextlib.AbstractContextManager[Any]:
        """A child span around one stage (here: nothing)."""
        return _NO_STAGE

    def replied(self, status: int, reason: str) -> None:
        """The service answered the request itself."""

    def end_request(self, ctx: RequestContext) -> None:
        """The request's stream ended."""

    def end_attempt(self, provider: str | None, model: str | None, number: int, status: int | None) -> None:
        """The attempt's stream ended."""


NO_TRACE = NoTrace()


class StreamTrace(NoTrace):
    """The span of one ext_proc stream: a request (router filter) or an upstream attempt."""

    def __init__(self, tracer: Tracer, span: Span) -> None:
        from opentelemetry import trace  # noqa: PLC0415

        self._tracer = tracer
        self._span = span
        self._context = trace.set_span_in_context(span)
        self._reply: tuple[int, str] | None = None
        self._logged = 0  # decisions already recorded as events
        self.trace_id = format(span.get_span_context().trace_id, "032x")

    @contextlib.contextmanager
    def stage(self, name: str, ctx: RequestContext) -> Iterator[None]:  # noqa: D102
        # Decisions made between stages (a stream, the attempt log) belong to the request's span.
        self._decisions(self._span, ctx.decisions)
        # Not made current: nothing below a stage makes spans, and a context attached across
        # awaits is one more thing to detach right.
        span = self._tracer.start_span(f"stage {name}", context=self._context)
        try:
            yield
        finally:
            self._decisions(span, ctx.decisions)
            span.end()

    def replied(self, status: int, reason: str) -> None:  # noqa: D102
        self._reply = (status, reason)

    def end_request(self, ctx: RequestContext) -> None:  # noqa: D102
        span = self._span
        self._decisions(span, ctx.decisions)
        operation = ctx.kind  # "chat" or "embeddings": the GenAI operation names
        requested = clipped(ctx.requested_model)  # the client's string: never whole
        span.update_name(f"{operation} {requested}" if requested else "llm_gateway request")
        status = ctx.status
        error = ctx.error
        if self._reply is not None:  # the service answered: that status is the client's
            status = self._reply[0]
            if status >= 400:
                error = error or self._reply[1]
        endpoint = ctx.endpoint
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": requested,
            "gen_ai.response.model": ctx.served_model if ctx.cache_hit is None else ctx.cache_hit.served_model,
            "gen_ai.provider.name": semconv_provider(endpoint.provider) if endpoint else None,
            "http.response.status_code": status,
            "error.type": clipped(error),
            "llm_gateway.request_id": ctx.request_id or None,
            "llm_gateway.tenant": ctx.tenant,
            "llm_gateway.route": ctx.route.name if ctx.route else None,
            "llm_gateway.stream": ctx.stream,
            "llm_gateway.cache": ctx.cache_outcome or "off",
            "llm_gateway.cost_usd": ctx.cost_usd,
            "llm_gateway.decisions": tuple(ctx.decisions),
            "llm_gateway.prompt": ctx.prompt_name,
            "llm_gateway.prompt_version": ctx.prompt_version,
        }
        if ctx.routing is not None:
            attributes["llm_gateway.route_reason"] = ctx.routing.reason
            attributes["llm_gateway.routing.policy"] = ctx.routing.policy
            attributes["llm_gateway.routing.split_arm"] = ctx.routing.arm
            attributes["llm_gateway.routing.task"] = ctx.routing.task
            attributes["llm_gateway.routing.complexity"] = ctx.routing.complexity
        body = ctx.body or {}
        for field, key in (("max_tokens", "gen_ai.request.max_tokens"), ("temperature", "gen_ai.request.temperature")):
            if isinstance(body.get(field), (int, float)) and not isinstance(body.get(field), bool):
                attributes[key] = body[field]
        if ctx.usage is not None:
            attributes["gen_ai.usage.input_tokens"] = ctx.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = ctx.usage.completion_tokens
        if ctx.redactions:
            attributes["llm_gateway.redactions"] = sum(ctx.redactions.values())
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        _set_status(span, status, error)
        span.end()

    def end_attempt(self, provider: str | None, model: str | None, number: int, status: int | None) -> None:  # noqa: D102
        span = self._span
        span.update_name(f"attempt {provider}/{model}" if provider else "attempt")
        attributes = {
            "gen_ai.provider.name": semconv_provider(provider) if provider else None,
            "gen_ai.request.model": model,
            "llm_gateway.attempt": number,
            "http.response.status_code": status or None,
        }
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        _set_status(span, status, None)
        span.end()

    def _decisions(self, span: Span, decisions: list[str]) -> None:
        for decision in decisions[self._logged :]:
            span.add_event(decision.split(":", 1)[0], {"llm_gateway.decision": decision})
        self._logged = len(decisions)


def start_stream(metadata: Iterable[tuple[str, Any]] | None) -> NoTrace:
    """The trace of one ext_proc stream, continuing the context Envoy sent in its gRPC metadata."""
    tracer = _tracer
    if tracer is None:
        return NO_TRACE
    from opentelemetry.trace import SpanKind  # noqa: PLC0415
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # noqa: PLC0415

    carrier = {key: value for key, value in metadata or () if key in _PROPAGATED and isinstance(value, str)}
    parent = TraceContextTextMapPropagator().extract(carrier)
    span = tracer.start_span("llm_gateway stream", context=parent, kind=SpanKind.SERVER)
    return StreamTrace(tracer, span)


def _set_status(span: Span, status: int | None, error: str | None) -> None:
    from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415

    # Server spans: a 5xx (or a failure after the answer started) is an error; a 4xx, or a client
    # that went away, is the client's doing.
    if error == CLIENT_DISCONNECTED:
        return
    if (status is not None and status >= 500) or (error and (status is None or status < 400)):
        span.set_status(Status(StatusCode.ERROR, error or str(status)))
