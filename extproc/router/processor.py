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

from extproc.config.catalog import Catalog, Endpoint
from extproc.context import RequestContext
from extproc.decisions import CLIENT_DISCONNECTED, REQUEST_ID_HEADER, TRACE_ID_HEADER, Changes, Reply
from extproc.endpoints import EndpointSpec, LocalResource, ParsedRequest, Registry
from extproc.errors import GatewayError
from extproc.formats import ClientFormat, error_reply, for_path
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
from extproc.router.request import endpoint_for, read_body, read_headers, upstream_changes, validate_body
from extproc.router.served import note_response
from extproc.router.streaming import PassthroughStream, TranslatedStream, open_stream, stream_piece
from extproc.stages.base import Stage
from extproc.stages.pipeline import Pipeline
from extproc.telemetry import metrics
from extproc.telemetry.tracing import NO_TRACE, NoTrace
from extproc.tenancy.auth import Access
from extproc.translation import ProviderTranslator
from extproc.upstream.credentials import Credentials

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
        # A local API whose answer waits for the request's body, and the path it was called on.
        self._resource: tuple[LocalResource, str] | None = None
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
                result = await self.response_headers(message.headers, message.end_of_stream, message.attributes, message.metadata)
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
        registry = self._gateway.registry
        path = read_headers(ctx, headers, (attributes or {}).get(SOURCE_ADDRESS, ""), self._gateway.catalog)
        static = registry.static(path)
        if static is not None:  # the playground's files: no key, no stage (they hold no data)
            page = static.answer(ctx.method, path, headers)
            return Reply(page.status, page.body, page.headers, reason="static")
        local = registry.local(ctx.method, path)
        resource = registry.resource(path) if local is None else None
        ctx.access = local.access if local is not None else resource.access if resource is not None else Access.TENANT
        reply = await self._run(self._gateway.pipeline.at_headers)
        if reply is None and local is not None:
            ctx.decisions.append(f"local:{local.path}")
            try:
                body = await local.answer(ctx)
                reply = Reply(200, body, {"content-type": local.content_type, **self._id_header()})
            except GatewayError as error:
                reply = self._reject(error)
        elif reply is None and resource is not None:
            ctx.decisions.append(f"local:{resource.prefix}")
            if not end_of_stream:
                self._resource = (resource, path)  # answered once its body is read
                return Changes()
            reply = await self._answer_resource(resource, path, b"")
        if reply is None:
            try:
                self._spec = endpoint_for(ctx, registry, path, end_of_stream)
            except GatewayError as error:
                reply = self._reject(error)
        if reply is not None:
            await self._settle()
            return reply
        return Changes()

    async def request_body(self, body: bytes) -> Reply | Changes:
        """Read the body, complete it (a prompt), validate it, run the request stages, and route."""
        if self._resource is not None:
            reply = await self._answer_resource(*self._resource, body)
            await self._settle()
            return reply
        spec = self._spec
        if spec is None:  # headers were answered already; Envoy should not send a body
            return Changes()
        result: Reply | Changes | None = await self._read_body(spec, body)
        if result is None:
            result = await self._run(self._gateway.pipeline.at_body)
        if result is None:
            assert self._parsed is not None  # read_body returned it, or raised and `result` is the refusal
            try:
                result = upstream_changes(self.ctx, spec, self._parsed, self._gateway.translators, self._gateway.credentials)
                result.metadata = self._request_metadata()
                self._forwarded = True
            except GatewayError as error:
                result = self._reject(error)
        if isinstance(result, Reply):
            await self._settle()
        return result

    async def _read_body(self, spec: EndpointSpec, body: bytes) -> Reply | None:
        """The body read, through the stages that complete it, then validated; a Reply when it is refused."""
        try:
            read_body(self.ctx, spec, body)
        except GatewayError as error:
            return self._reject(error)
        reply = await self._run(self._gateway.pipeline.before_validation)
        if reply is not None:
            return reply
        try:
            self._parsed = validate_body(self.ctx, spec)
        except GatewayError as error:
            return self._reject(error)
        return None

    async def _answer_resource(self, resource: LocalResource, path: str, body: bytes) -> Reply:
        """A local API's answer to the request (its refusal in the client's format)."""
        try:
            status, payload = await resource.answer(self.ctx, path, body)
        except GatewayError as error:
            return self._reject(error)
        return Reply(status, payload, {"content-type": "application/json", **self._id_header()})

    async def _run(self, stages: tuple[Stage, ...]) -> Reply | None:
        """The stages' request side in order, until one answers (a cache hit answers too) or refuses."""
        ctx = self.ctx
        try:
            for stage in stages:
                with self._trace.stage(stage.name, ctx):
                    reply = await stage.on_request(ctx)
                self._ran.append(stage)
                if reply is not None:
                    for earlier in self._ran[-2::-1]:
                        earlier.on_reply(ctx, reply)
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
        ctx.client_headers.update(self._id_header())
        note_response(ctx, headers, attributes.get(UPSTREAM_HOST_METADATA) or {}, metadata or {})
        spec = self._spec
        if spec is None:
            return Changes(set_headers=dict(ctx.client_headers))
        self._translator = self._gateway.translators.get(ctx.endpoint) if ctx.endpoint else None
        is_sse = headers.get("content-type", "").startswith("text/event-stream")
        if is_sse and ctx.status == 200 and not end_of_stream:
            self._stream = open_stream(ctx, spec, self._translator, self._back())
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

    async def _stream_chunk(self, chunk: bytes, end_of_stream: bool) -> Changes:
        assert self._stream is not None
        failed = self.ctx.error is not None
        out = stream_piece(self.ctx, self._stream, chunk, end_of_stream, self._back())
        changes = Changes(body=out) if out is not None else Changes()
        if end_of_stream:
            await self._finish()
        if end_of_stream or (self.ctx.error is not None and not failed):
            # With the piece that carries a failure's error event too: an SDK raises on that event and
            # may hang up before the stream's end reaches this filter, and the log line must say why.
            changes.metadata = self._response_metadata()
        return changes

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
            if type(stage).on_response is Stage.on_response:
                continue  # nothing to do on the way back: no call, no span
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
        self.ctx.status = reply.status  # what the client got, for the stages' on_response
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
        if self.ctx.status is None:  # the status the client gets, for the stages' on_response
            self.ctx.status = error.status
        self.ctx.decisions.append(f"rejected:{error.code or error.status}")
        metrics.record_rejection(reason=error.code or "error", status=error.status)
        return error_reply(self.client_format, error, self._id_header())

    def _id_header(self) -> dict[str, str]:
        ids = {REQUEST_ID_HEADER: self.ctx.request_id} if self.ctx.request_id else {}
        if self._trace.trace_id:
            ids[TRACE_ID_HEADER] = self._trace.trace_id
        return ids

    def _request_metadata(self) -> dict[str, object]:
        return access_log.request_metadata(self.ctx, self._format_name)

    def _response_metadata(self) -> dict[str, object]:
        return access_log.response_metadata(self.ctx, self._format_name)

