"""The router-level processor: one generic processor for every LLM endpoint, sequencing its phases.

Envoy opens one ext_proc stream per HTTP request; `ext_proc/server.py`
creates one `RouterProcessor` per stream and hands it each message. What
differs between endpoints is described by their `EndpointSpec`; what
differs between policies lives in the stages (`stages/`), which the request
meets in the pipeline's order and its answer in reverse (`answers.py`,
`streaming.py`). Whatever ends a request (an answer, a refusal, an error,
the client leaving), every stage that saw it sees its end, once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

import orjson

from extproc.config.catalog import Catalog, Endpoint
from extproc.context import RequestContext
from extproc.decisions import CLIENT_DISCONNECTED, PROVIDER_HEADER, REQUEST_ID_HEADER, SERVED_MODEL_HEADER, Changes, Reply
from extproc.endpoints import EndpointSpec, ParsedRequest, Registry
from extproc.errors import GatewayError, clipped, shown
from extproc.formats import OPENAI, ClientFormat, error_reply, for_path
from extproc.phases import (
    REQUEST_BODY,
    REQUEST_HEADERS,
    RESPONSE_BODY,
    RESPONSE_HEADERS,
    SOURCE_ADDRESS,
    UPSTREAM_HOST_METADATA,
    Message,
)
from extproc.router import access_log, answers
from extproc.router.streaming import PassthroughStream, TranslatedStream
from extproc.stages.base import Stage
from extproc.stages.pipeline import Pipeline
from extproc.telemetry import metrics
from extproc.telemetry.tracing import NO_TRACE, NoTrace
from extproc.tenancy.auth import Access
from extproc.translation import ProviderTranslator
from extproc.translation.streams import OpenAIStream
from extproc.upstream import attempts
from extproc.upstream.credentials import Credentials
from extproc.upstream.provider_request import for_endpoint

log = logging.getLogger(__name__)

# The status metrics count a request under when its client left before any answer (nginx's
# "client closed request").
CLIENT_CLOSED_REQUEST = 499


class RouterParts(Protocol):
    """What the router needs of the gateway built at start-up (`app.Gateway`)."""

    catalog: Catalog
    registry: Registry
    pipeline: Pipeline
    credentials: Credentials
    translators: dict[Endpoint, ProviderTranslator]
    # Requests being finished after their client went away (see RouterProcessor.close).
    unfinished: set[asyncio.Task[None]]


class RouterProcessor:
    """Handles the phases of one HTTP request at the router-level ext_proc filter."""

    def __init__(self, gateway: RouterParts, trace: NoTrace = NO_TRACE) -> None:
        self._gateway = gateway
        self._trace = trace
        self.ctx = RequestContext()
        self._spec: EndpointSpec | None = None
        self._parsed: ParsedRequest | None = None
        self._translator: ProviderTranslator | None = None
        self._stream: PassthroughStream | TranslatedStream | None = None
        # The stages whose on_request ran, in order; the way back is the reverse.
        self._ran: list[Stage] = []
        self._settled = False
        # The request went to a provider, and its end was handled.
        self._forwarded = False
        self._finished = False
        # The service answered this request itself (a refusal, a cache hit, an internal error).
        self._replied = False

    async def process(self, message: Message) -> Reply | Changes:
        """The decision for one message (and the time it took, added to the request's overhead)."""
        started = time.perf_counter()
        try:
            if message.phase == REQUEST_HEADERS:
                result = await self.request_headers(message.headers, message.end_of_stream, message.attributes)
            elif message.phase == REQUEST_BODY:
                result = await self.request_body(message.body)
            elif message.phase == RESPONSE_HEADERS:
                result = await self.response_headers(
                    message.headers, message.end_of_stream, message.attributes, message.metadata
                )
            elif message.phase == RESPONSE_BODY:
                result = await self.response_body(message.body, message.end_of_stream)
            else:
                return Changes()
        finally:
            self.ctx.service_seconds += time.perf_counter() - started
        if isinstance(result, Reply):
            self.replied(result)
            result.metadata = self.reply_metadata(result)
        return result

    # --- request -----------------------------------------------------------

    async def request_headers(
        self, headers: dict[str, str], end_of_stream: bool, attributes: dict[str, Any] | None = None
    ) -> Reply | Changes:
        """Authenticate; answer locally served and unknown paths; pick the endpoint spec by path."""
        ctx = self.ctx
        ctx.headers = headers
        ctx.method = headers.get(":method", "")
        ctx.path = headers.get(":path", "")
        ctx.request_id = headers.get("x-request-id", "")
        ctx.peer = (attributes or {}).get(SOURCE_ADDRESS, "")
        registry = self._gateway.registry
        path = ctx.path
        ctx.lane = self._gateway.catalog.lane_for(path)
        if ctx.lane is not None:
            path = path[len(ctx.lane.prefix):]
            ctx.decisions.append(f"lane:{ctx.lane.prefix}")
        local = registry.local(ctx.method, path)
        ctx.access = local.access if local is not None else Access.TENANT
        reply = await self._run(self._gateway.pipeline.at_headers)
        if reply is None and local is not None:
            ctx.decisions.append(f"local:{local.path}")
            try:
                body = await local.answer(ctx)
                reply = Reply(200, body, {"content-type": local.content_type, **self._id_header()})
            except GatewayError as error:
                reply = self._reject(error)
        if reply is None:
            reply = self._choose_endpoint(path, end_of_stream, headers)
        if reply is not None:
            await self._settle()
            return reply
        return Changes()

    def _choose_endpoint(self, path: str, end_of_stream: bool, headers: dict[str, str]) -> Reply | None:
        spec = self._gateway.registry.forwarded(self.ctx.method, path)
        if spec is None:
            return self._reject(self._unknown_endpoint())
        self._spec = spec
        if end_of_stream:
            return self._reject(GatewayError(400, "The request body is missing.", code="invalid_request"))
        content_type = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if content_type not in ("application/json", ""):
            message = f"Content-Type must be application/json, not {shown(content_type)}."
            return self._reject(GatewayError(415, message, code="unsupported_media_type"))
        return None

    async def request_body(self, body: bytes) -> Reply | Changes:
        """Validate the body, run the request stages, and route."""
        spec = self._spec
        if spec is None:  # headers were answered already; Envoy should not send a body
            return Changes()
        result = self._read_body(spec, body)
        if result is None:
            result = await self._run(self._gateway.pipeline.at_body)
        if result is None:
            result = self._forward(spec)
        if isinstance(result, Reply):
            await self._settle()
        return result

    def _read_body(self, spec: EndpointSpec, body: bytes) -> Reply | None:
        """The body decoded, validated and in the canonical format on the context; a 400 when it is not."""
        ctx = self.ctx
        ctx.body_size = len(body)
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return self._reject(GatewayError(400, f"The request body is not valid JSON: {exc}.", code="invalid_json"))
        try:
            options = _pop_gateway_options(decoded)
            canonical = spec.to_canonical(decoded)
            parsed = spec.parse(canonical)
        except GatewayError as error:
            return self._reject(error)
        ctx.gateway_options, ctx.client_body, ctx.body, ctx.kind = options, decoded, canonical, spec.kind
        ctx.requested_model, ctx.stream, ctx.dry_run = parsed.model, parsed.stream, parsed.dry_run
        ctx.client_wants_stream_usage = parsed.stream_usage
        ctx.body_changed = bool(options) or canonical is not decoded
        self._parsed = parsed
        return None

    def _forward(self, spec: EndpointSpec) -> Reply | Changes:
        """The request for Envoy's router: the model header, the path, and the body when it changed."""
        ctx = self.ctx
        assert ctx.body is not None and self._parsed is not None
        changes = Changes(set_headers=ctx.upstream_headers, clear_route_cache=True, metadata=self._request_metadata())
        body_changed = spec.prepare_upstream(ctx.body, self._parsed) or ctx.body_changed
        if spec.upstream_path != ctx.path:
            changes.set_headers[":path"] = spec.upstream_path
        route = ctx.route
        if route is not None and not route.per_attempt and route.endpoints:
            # No upstream filter on this cluster: prepare the request for its only endpoint here.
            endpoint = route.endpoints[0]
            try:
                prepared = for_endpoint(
                    self._gateway.translators[endpoint],
                    endpoint,
                    spec.upstream_path,
                    ctx.body,
                    self._gateway.credentials.api_key(endpoint),
                    # The router still reads x-envoy-* after this filter (x-envoy-max-retries...).
                    [name for name in ctx.headers if not name.startswith("x-envoy-")],
                )
            except GatewayError as error:
                return self._reject(error)
            changes.set_headers.update(prepared.headers)
            changes.remove_headers.extend(prepared.remove_headers)
            changes.body = prepared.body
        elif body_changed:
            changes.replace_body(orjson.dumps(ctx.body))
        self._forwarded = True
        return changes

    async def _run(self, stages: tuple[Stage, ...]) -> Reply | None:
        """The stages' request side in order, until one answers (a cache hit answers too) or refuses."""
        ctx = self.ctx
        try:
            for stage in stages:
                with self._trace.stage(stage.name, ctx):
                    reply = await stage.on_request(ctx)
                self._ran.append(stage)
                if reply is not None:
                    reply.headers.update(self._id_header())
                    return reply
                if ctx.cache_hit is not None and self._spec is not None:
                    return answers.replay(ctx, self._spec, self._back(), self._id_header())
        except GatewayError as error:
            return self._reject(error)
        return None

    # --- response ----------------------------------------------------------

    async def response_headers(
        self,
        headers: dict[str, str],
        end_of_stream: bool,
        attributes: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> Reply | Changes:
        """Note status, serving endpoint and attempts; switch event streams to chunk-by-chunk processing."""
        ctx = self.ctx
        ctx.response_headers = headers
        ctx.status = _status(headers)
        ctx.endpoint = self._serving_endpoint(attributes.get(UPSTREAM_HOST_METADATA) or {})
        self._set_identity_headers()
        self._set_attempt_headers(headers, metadata or {})
        spec = self._spec
        if spec is None:
            return Changes(set_headers=dict(ctx.client_headers))
        self._translator = self._gateway.translators.get(ctx.endpoint) if ctx.endpoint else None
        is_sse = headers.get("content-type", "").startswith("text/event-stream")
        if is_sse and ctx.status == 200 and not end_of_stream:
            self._start_stream(spec)
            ctx.decisions.append("stream")
            # The stream is rewritten on the fly: its length is no longer known.
            return Changes(
                set_headers={**ctx.client_headers, "content-type": "text/event-stream"},
                remove_headers=["content-length"],
                stream_body=True,
            )
        if end_of_stream:
            await self._finish()
            return Changes(set_headers=dict(ctx.client_headers), metadata=self._response_metadata())
        # Buffered: headers go out with the body, once usage is known.
        return Changes()

    async def response_body(self, chunk: bytes, end_of_stream: bool) -> Changes:
        """Translate the answer for the client, through the stages, and finish the request."""
        if self._stream is not None:
            return await self._stream_chunk(chunk, end_of_stream)
        ctx = self.ctx
        spec = self._spec
        if spec is None:
            # A reply Envoy made before this filter saw the request (a local rate
            # limit, say): its own local_reply_config already shapes the body.
            return Changes()
        if ctx.status is not None and ctx.status >= 400 and not self._envoy_made_the_reply:
            changes = answers.upstream_error(spec, self._translator, ctx.status, chunk)
        elif ctx.status is not None and ctx.status >= 400:
            changes = Changes()  # Envoy's local_reply_config already answered in the client's format
        else:
            changes = answers.buffered_answer(ctx, spec, self._translator, chunk, self._back())
        await self._finish()
        changes.set_headers.update(ctx.client_headers)
        changes.metadata = self._response_metadata()
        return changes

    @property
    def _envoy_made_the_reply(self) -> bool:
        """True for Envoy's own replies (reset, timeout, no healthy host): the router stamps
        x-envoy-upstream-service-time on every answer that came from a provider, never on these."""
        return access_log.UPSTREAM_SERVICE_TIME_HEADER not in self.ctx.response_headers

    def _start_stream(self, spec: EndpointSpec) -> None:
        ctx = self.ctx
        native = self._translator is None or self._translator.openai_compatible
        if native and spec.client_format is OPENAI and not ctx.stream_inspected:
            self._stream = PassthroughStream(self._on_chunk, ctx.client_wants_stream_usage)
            return
        source = OpenAIStream() if native else self._translator.chat_stream(ctx.body or {})  # type: ignore[union-attr]
        writer = spec.client_format.stream_writer(ctx.requested_model or "", ctx.client_wants_stream_usage, ctx.client_body)
        self._stream = TranslatedStream(source, writer, self._on_chunk)

    async def _stream_chunk(self, chunk: bytes, end_of_stream: bool) -> Changes:
        ctx = self.ctx
        stream = self._stream
        assert stream is not None
        out = stream.feed(chunk, end_of_stream, self._closing_chunks)
        sent = chunk if out is None else out  # None: Envoy forwards the piece as it came
        if ctx.first_output_at is None and sent:
            ctx.first_output_at = time.monotonic()
        changes = Changes(body=out) if out is not None else Changes()
        if stream.failure is not None and ctx.error is None:
            ctx.error = stream.failure
            ctx.decisions.append("stream_failed")
            log.warning("request %s: the provider's stream failed mid-way: %s", ctx.request_id, stream.failure)
            # With the piece that carries the error event: an SDK raises on that event and may hang
            # up before the stream's end reaches this filter, and the log line must still say why.
            changes.metadata = self._response_metadata()
        if end_of_stream:
            await self._finish()
            changes.metadata = self._response_metadata()
        return changes

    def _on_chunk(self, chunk: dict[str, Any]) -> None:
        for stage in self._back():
            stage.on_chunk(self.ctx, chunk)

    def _closing_chunks(self) -> list[dict[str, Any]]:
        return [chunk for stage in self._back() for chunk in stage.closing_chunks(self.ctx)]

    def _back(self) -> list[Stage]:
        """The stages that saw the request, nearest the provider first: the answer's way back."""
        return self._ran[::-1]

    # --- the end -------------------------------------------------------------

    async def _settle(self) -> None:
        """Every stage that saw the request sees its end, in reverse order, once."""
        if self._settled:
            return
        self._settled = True
        for stage in self._back():
            with self._trace.stage(f"{stage.name} (response)", self.ctx):
                await stage.on_response(self.ctx)

    async def _finish(self) -> None:
        self._finished = True
        await self._settle()
        access_log.record_answer(self.ctx)

    def close(self) -> None:
        """The stream has ended: count the service's own time on this request and end its trace.

        A request whose end never came (the client hung up, so Envoy ended the stream early; or
        the service failed mid-way) is finished here first, on a task of its own: its stages see
        its end (a reservation is settled, what it used is charged and counted, nothing is cached).
        """
        if self._forwarded and not self._finished and not self._replied:
            self._in_background(self._finish_abandoned())
        elif self._ran and not self._settled:
            self._in_background(self._settle())
        else:
            self._closed()

    def _in_background(self, work: Any) -> None:
        async def finish() -> None:
            try:
                await work
            except Exception:  # a store or a bug: logged, never raised into nowhere
                log.exception("request %s: finishing after its stream ended failed", self.ctx.request_id)
            finally:
                self._closed()

        task = asyncio.get_running_loop().create_task(finish())
        unfinished = self._gateway.unfinished
        unfinished.add(task)  # a reference until it is done: the loop keeps only weak ones
        task.add_done_callback(unfinished.discard)

    async def _finish_abandoned(self) -> None:
        ctx = self.ctx
        ctx.error = ctx.error or CLIENT_DISCONNECTED
        ctx.decisions.append(CLIENT_DISCONNECTED)
        if ctx.status is None:
            # No answer had started: nothing to charge; the reservation goes back whole.
            ctx.status = CLIENT_CLOSED_REQUEST
        elif ctx.usage is None:
            ctx.partial_answer = True  # the provider was answering: its prompt and what was sent are charged
        await self._finish()

    def _closed(self) -> None:
        ctx = self.ctx
        metrics.record_overhead(route=ctx.route.name if ctx.route else None, seconds=ctx.service_seconds)
        self._trace.end_request(ctx)

    # --- replies -------------------------------------------------------------

    def replied(self, reply: Reply) -> None:
        """Note that the service answered this request itself (for its trace)."""
        self._replied = True
        self._trace.replied(reply.status, reply.reason)

    def failed(self) -> Reply:
        """The 500 for a failure of the gateway itself, in the client's format."""
        reply = self.internal_error()
        self.replied(reply)
        return reply

    def internal_error(self) -> Reply:
        """The 500 for a failure of the gateway itself, in the client's format."""
        return error_reply(self.client_format, GatewayError(500, "The gateway failed to process this request.", code="internal_error"))

    def reply_metadata(self, reply: Reply) -> dict[str, object]:
        """The access log's fields for a request the service answered itself (a refusal, a cache hit)."""
        return access_log.reply_metadata(self.ctx, self._format_name, reply)

    @property
    def client_format(self) -> ClientFormat:
        """The client's format: the endpoint's once known, else the path's (`/v1/messages/...` is Anthropic's)."""
        if self._spec is not None:
            return self._spec.client_format
        lane = self.ctx.lane
        return for_path(self.ctx.path[len(lane.prefix):] if lane is not None else self.ctx.path)

    @property
    def _format_name(self) -> str | None:
        return self._spec.client_format.name if self._spec is not None else None

    def _reject(self, error: GatewayError) -> Reply:
        self.ctx.decisions.append(f"rejected:{error.code or error.status}")
        metrics.record_rejection(reason=error.code or "error", status=error.status)
        return error_reply(self.client_format, error, self._id_header())

    def _unknown_endpoint(self) -> GatewayError:
        ctx = self.ctx
        path = ctx.path.split("?", 1)[0]
        lane_prefix = ctx.lane.prefix if ctx.lane is not None else ""
        where = f"{clipped(ctx.method, 16)} {clipped(path)}"
        if self._gateway.registry.knows_path(path[len(lane_prefix):]):
            return GatewayError(405, f"Method {clipped(ctx.method, 16)} is not allowed on {clipped(path)}.", code="method_not_allowed")
        return GatewayError(404, f"Unknown endpoint {where}.", code="unknown_endpoint")

    def _id_header(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: self.ctx.request_id} if self.ctx.request_id else {}

    def _serving_endpoint(self, host: dict[str, Any]) -> Endpoint | None:
        route = self.ctx.route
        if route is None or not route.endpoints:
            return None
        model = host.get("model")
        return next((endpoint for endpoint in route.endpoints if endpoint.model == model), route.endpoints[0])

    def _set_identity_headers(self) -> None:
        ctx = self.ctx
        ctx.client_headers.update(self._id_header())
        if ctx.endpoint is not None:
            ctx.client_headers[SERVED_MODEL_HEADER] = ctx.endpoint.upstream_model
            ctx.client_headers[PROVIDER_HEADER] = ctx.endpoint.provider

    def _set_attempt_headers(self, headers: dict[str, str], metadata: dict[str, Any]) -> None:
        """Which attempt answered, and the log of all of them when the upstream filter kept one."""
        ctx = self.ctx
        made = attempts.from_metadata(metadata, attempts.envoy_count(headers))
        ctx.unanswered = [(a.provider, a.model) for a in attempts.unanswered(made)]
        if made:
            ctx.client_headers.update(attempts.client_headers(made))
            if len(made) > 1:
                ctx.decisions.append(f"attempts:{made[-1].number}")
        elif attempts.ATTEMPT_COUNT_HEADER in headers:  # no upstream filter: Envoy's count only
            ctx.client_headers[attempts.ATTEMPT_HEADER] = headers[attempts.ATTEMPT_COUNT_HEADER]

    def _request_metadata(self) -> dict[str, object]:
        return access_log.request_metadata(self.ctx, self._format_name)

    def _response_metadata(self) -> dict[str, object]:
        return access_log.response_metadata(self.ctx, self._format_name)


def _status(headers: dict[str, str]) -> int | None:
    try:
        return int(headers.get(":status", ""))
    except ValueError:
        return None


def _pop_gateway_options(body: Any) -> dict[str, Any]:
    """Remove the `x_gateway` extension object from a request body; the provider never sees it."""
    if not isinstance(body, dict) or "x_gateway" not in body:
        return {}
    options = body.pop("x_gateway")
    if not isinstance(options, dict):
        raise GatewayError(400, "`x_gateway` must be an object.", code="invalid_request", param="x_gateway")
    return options
