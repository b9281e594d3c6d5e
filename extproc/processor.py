"""The router-level processor: one generic processor for every LLM endpoint.

Envoy opens one ext_proc stream per HTTP request; `server.py` creates one
`RouterProcessor` per stream and calls the method of each phase in the order
Envoy sends them. What differs between endpoints is described by their
`EndpointSpec`; what differs between policies lives in the stages.
"""

from __future__ import annotations

import asyncio
import copy
import time
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from extproc import attempts, client_formats, metrics
from extproc.attributes import gateway_metadata
from extproc.auth import Access, Authenticator
from extproc.limits import Limits
from extproc.settings import Settings
from extproc.catalog import Catalog, Endpoint, ModelRoute
from extproc.client_formats import GATEWAY_FIELD, OPENAI, ClientFormat
from extproc.context import RequestContext
from extproc.credentials import Credentials
from extproc.decisions import CLIENT_DISCONNECTED, Changes, Reply
from extproc.endpoints import EndpointSpec, Registry
from extproc.endpoints.embeddings import tail_usage
from extproc.errors import MAX_MESSAGE_CHARS, GatewayError, clipped, shown
from extproc.estimate import Estimator
from extproc.pricing import Pricing
from extproc.cache.replay import StreamAssembler, as_chunks
from extproc.provider_request import for_endpoint
from extproc.redaction.output import GuardedStream, OutputGuard
from extproc.stages import Stage
from extproc.stages.accounting import COST_HEADER, format_usd
from extproc.stages.cache import AGE_HEADER, CacheStage
from extproc.streams import OpenAIChunks, PassthroughStream, TranslatedStream
from extproc.translation import ProviderTranslator
from extproc.tracing import NO_TRACE, NoTrace
from extproc.translation.errors import error_message
from extproc.usage import Usage

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-gateway-request-id"
SERVED_MODEL_HEADER = "x-gateway-served-model"
PROVIDER_HEADER = "x-gateway-provider"
UPSTREAM_HOST_METADATA = "xds.upstream_host_metadata"
UPSTREAM_SERVICE_TIME_HEADER = "x-envoy-upstream-service-time"
# The downstream peer, "ip:port" (asked for by the router filter's request_attributes).
SOURCE_ADDRESS = "source.address"
# The status metrics count a request under when its client left before any answer (nginx's
# "client closed request").
CLIENT_CLOSED_REQUEST = 499
# Requests being finished after their client went away (see RouterProcessor.close).
_ABANDONED: set[asyncio.Task[None]] = set()
# A route's `privacy.log_text` puts at most this much of the prompt and of the completion in the log line.
LOGGED_TEXT_CHARS = 8192


@dataclass(slots=True)
class Gateway:
    """Everything built once at start-up and shared by every request."""

    catalog: Catalog
    registry: Registry
    stages: list[Stage]
    credentials: Credentials
    translators: dict[Endpoint, ProviderTranslator]
    estimator: Estimator
    pricing: Pricing
    authenticator: Authenticator
    settings: Settings
    limits: Limits
    # The response cache, when a route caches (for the purge endpoint).
    cache: CacheStage | None = None
    # Envoy's admin interface, whose statistics GET /metrics appends.
    envoy_admin_url: str | None = None


class RouterProcessor:
    """Handles the phases of one HTTP request at the router-level ext_proc filter."""

    def __init__(self, gateway: Gateway, trace: NoTrace = NO_TRACE) -> None:
        self._gateway = gateway
        self._trace = trace
        self.ctx = RequestContext()
        self._spec: EndpointSpec | None = None
        self._translator: ProviderTranslator | None = None
        self._passthrough: PassthroughStream | None = None
        self._translated: TranslatedStream | None = None
        # Completion text of a stream, kept only to estimate usage a provider did not report.
        self._streamed_text: list[str] = []
        # The output guard's filter of each streamed choice, by choice index.
        self._guarded: dict[int, GuardedStream] = {}
        # Streamed choices the output guard stopped and whose end the client was told.
        self._filtered: set[int] = set()
        # A buffered completion's text, when the route lets the log line carry it.
        self._completion_for_log: str | None = None
        # A streamed answer put back together, for the cache to store.
        self._assembler: StreamAssembler | None = None
        # The request went to a provider (the stages reserved, counted...), and its end was handled.
        self._forwarded = False
        self._finished = False
        # The service answered this request itself (a refusal, a cache hit, an internal error).
        self._replied = False
        # Attempts that reached a provider and ended unanswered (reset, timed out): charged too.
        self._unanswered = attempts.Unanswered()

    # --- request -----------------------------------------------------------

    async def request_headers(
        self, headers: dict[str, str], end_of_stream: bool, attributes: dict[str, Any] | None = None
    ) -> Reply | Changes:
        """Pick the endpoint spec by path; answer locally served and unknown paths."""
        ctx = self.ctx
        ctx.headers = headers
        ctx.method = headers.get(":method", "")
        ctx.path = headers.get(":path", "")
        ctx.request_id = headers.get("x-request-id", "")
        registry = self._gateway.registry
        path = ctx.path
        ctx.lane = self._gateway.catalog.lane_for(path)
        if ctx.lane is not None:
            path = path[len(ctx.lane.prefix):]
            ctx.decisions.append(f"lane:{ctx.lane.prefix}")
        local = registry.local(ctx.method, path)
        try:
            with self._trace.stage("auth", ctx):
                access = local.access if local is not None else Access.TENANT
                peer = (attributes or {}).get(SOURCE_ADDRESS, "")
                identity = await self._gateway.authenticator.identify(headers, access, peer)
        except GatewayError as error:
            return self._reject(error)
        ctx.tenant, ctx.key_id = identity.tenant, identity.key_id
        if local is not None:
            ctx.decisions.append(f"local:{local.path}")
            try:
                body = await local.answer(self._gateway, ctx)
            except GatewayError as error:
                return self._reject(error)
            return Reply(200, body, {"content-type": local.content_type, **self._id_header()})
        spec = registry.forwarded(ctx.method, path)
        if spec is None:
            return self._reject(self._unknown_endpoint())
        self._spec = spec
        if end_of_stream:
            return self._reject(GatewayError(400, "The request body is missing.", code="invalid_request"))
        content_type = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if content_type not in ("application/json", ""):
            return self._reject(
                GatewayError(415, f"Content-Type must be application/json, not {shown(content_type)}.", code="unsupported_media_type")
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
            options = _pop_gateway_options(decoded)
            canonical = spec.to_canonical(decoded)
            parsed = spec.parse(canonical)
        except GatewayError as error:
            return self._reject(error)
        ctx.gateway_options = options
        ctx.client_body = decoded
        ctx.body = canonical
        ctx.kind = spec.kind
        ctx.requested_model = parsed.model
        ctx.stream = parsed.stream
        ctx.dry_run = parsed.dry_run
        ctx.client_wants_stream_usage = parsed.stream_usage
        try:
            for index, stage in enumerate(self._gateway.stages):
                with self._trace.stage(stage.name, ctx):
                    reply = await stage.on_request(ctx)
                if reply is not None:
                    reply.headers.update(self._id_header())
                    return reply
                if ctx.cache_hit is not None:
                    return await self._replay(spec, self._gateway.stages[: index + 1])
        except GatewayError as error:
            return self._reject(error)
        changes = Changes(set_headers=ctx.upstream_headers, clear_route_cache=True, metadata=self._request_metadata())
        body_changed = spec.prepare_upstream(canonical, parsed) or ctx.body_changed or bool(options)
        body_changed = body_changed or canonical is not decoded
        if spec.upstream_path != ctx.path:
            changes.set_headers[":path"] = spec.upstream_path
        route = ctx.route
        if route is not None and not route.per_attempt and route.endpoints:
            # No upstream filter on this cluster: prepare the request for its only endpoint here.
            try:
                endpoint = route.endpoints[0]
                prepared = for_endpoint(
                    self._gateway.translators[endpoint],
                    endpoint,
                    spec.upstream_path,
                    canonical,
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
            changes.replace_body(orjson.dumps(canonical))
        self._forwarded = True
        return changes

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
        ctx.endpoint = self._serving_endpoint(attributes)
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
        """Translate the answer for the client, read its usage, and finish the request."""
        if self._passthrough is not None or self._translated is not None:
            return await self._stream_chunk(chunk, end_of_stream)
        ctx = self.ctx
        spec = self._spec
        if spec is None:
            # A reply Envoy made before this filter saw the request (a local rate
            # limit, say): its own local_reply_config already shapes the body.
            return Changes()
        if ctx.status is not None and ctx.status >= 400 and not self._envoy_made_the_reply:
            changes = self._client_error(ctx.status, chunk)
        elif ctx.status is not None and ctx.status >= 400:
            changes = Changes()  # Envoy's local_reply_config already answered in the client's format
        else:
            changes = self._client_answer(spec, chunk)
        await self._finish()
        changes.set_headers.update(ctx.client_headers)
        changes.metadata = self._response_metadata()
        return changes

    @property
    def _envoy_made_the_reply(self) -> bool:
        """True for Envoy's own replies (reset, timeout, no healthy host): the router stamps
        x-envoy-upstream-service-time on every answer that came from a provider, never on these."""
        return UPSTREAM_SERVICE_TIME_HEADER not in self.ctx.response_headers

    @property
    def _provider_speaks_openai(self) -> bool:
        """True when the serving endpoint's answers are already in the canonical format."""
        return self._translator is None or self._translator.openai_compatible

    def _client_answer(self, spec: EndpointSpec, body: bytes) -> Changes:
        """A buffered 2xx answer: canonical, then the client's format, with usage read on the way."""
        ctx = self.ctx
        translator = self._translator
        native = self._provider_speaks_openai
        if native and ctx.kind == "embeddings" and spec.client_format is OPENAI:
            # Passed through as it came: only its usage is needed, and a 60 MB answer of floats
            # would hold the event loop for half a second to parse.
            ctx.usage = tail_usage(body)
            if ctx.usage is None:
                self._estimate_usage("")
            return Changes()
        try:
            if native:
                payload = orjson.loads(body) if body else None
            elif ctx.kind == "embeddings":
                payload = translator.embeddings_response(body, ctx.body or {})  # type: ignore[union-attr]
            else:
                payload = translator.chat_response(body, ctx.body or {})  # type: ignore[union-attr]
        except Exception as exc:  # orjson's error, or anything LiteLLM raises on a body it cannot read
            log.warning(
                "request %s: %s answered %s with a body that cannot be read: %s",
                ctx.request_id,
                ctx.endpoint.provider if ctx.endpoint else "the provider",
                ctx.status,
                type(exc).__name__,
            )
            ctx.status = 502
            return self._error_changes(
                GatewayError(502, "The model provider sent a malformed answer.", code="bad_upstream_response")
            )
        if not isinstance(payload, dict):
            return Changes()
        ctx.usage = spec.usage(payload)
        if ctx.usage is None:
            self._estimate_usage(_completion_text(payload))
        if ctx.log_text:
            self._completion_for_log = _completion_text(payload)
        if ctx.cache_key is not None and ctx.kind == "chat":
            ctx.cache_answer = orjson.loads(body) if native else copy.deepcopy(payload)
        guarded = ctx.output_guard is not None and _guard_answer(ctx.output_guard, payload)
        if native and spec.client_format is OPENAI and not guarded:
            return Changes()
        answer = spec.client_format.answer(payload, ctx.requested_model or "", ctx.client_body)
        return Changes(set_headers={"content-type": "application/json"}).replace_body(orjson.dumps(answer))

    def _client_error(self, status: int, body: bytes) -> Changes:
        """An upstream error in the client's error format, keeping the provider's message."""
        spec = self._spec
        assert spec is not None
        translator = self._translator
        if spec.client_format is OPENAI and self._provider_speaks_openai and _is_openai_error(body):
            return Changes()
        if translator is not None:
            message, type_ = translator.error(status, body)
        else:
            message = error_message(body) or f"The model provider answered with HTTP {status}."
            type_ = None
        return self._error_changes(GatewayError(status, message, code="upstream_error", type=type_))

    def _error_changes(self, error: GatewayError) -> Changes:
        body = self._error_body(error)
        return Changes(set_headers={"content-type": "application/json", ":status": str(error.status)}).replace_body(body)

    def _start_stream(self, spec: EndpointSpec) -> None:
        ctx = self.ctx
        native = self._provider_speaks_openai
        if ctx.cache_key is not None:
            self._assembler = StreamAssembler()
        if native and spec.client_format is OPENAI and ctx.output_guard is None and self._assembler is None:
            self._passthrough = PassthroughStream(self._on_chunk, ctx.client_wants_stream_usage)
            return
        if ctx.output_guard is not None:
            ctx.decisions.append("output_guarded")
        source = OpenAIChunks() if native else self._translator.chat_stream(ctx.body or {})  # type: ignore[union-attr]
        writer = spec.client_format.stream_writer(
            ctx.requested_model or "", ctx.client_wants_stream_usage, ctx.client_body
        )
        self._translated = TranslatedStream(source, writer, self._on_chunk)

    async def _stream_chunk(self, chunk: bytes, end_of_stream: bool) -> Changes:
        ctx = self.ctx
        if self._passthrough is not None:
            out = self._passthrough.feed(chunk, end_of_stream)
            if end_of_stream and ctx.usage is None:
                self._estimate_usage("".join(self._streamed_text))
        else:
            assert self._translated is not None
            out = self._translated.feed(chunk, end_of_stream, self._closing_chunks)
        sent = chunk if out is None else out  # None: Envoy forwards the piece as it came
        if ctx.first_output_at is None and sent:
            ctx.first_output_at = time.monotonic()
        changes = Changes(body=out) if out is not None else Changes()
        stream = self._passthrough or self._translated
        if stream is not None and stream.failure is not None and ctx.error is None:
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
        """Read usage from a canonical stream chunk and put the gateway's figures on it."""
        ctx = self.ctx
        if self._assembler is not None:
            self._assembler.feed(chunk)  # as the model wrote it, before the output policy
        usage = self._spec.usage(chunk) if self._spec is not None else None
        if usage is not None:
            ctx.usage = usage
            chunk[GATEWAY_FIELD] = self._gateway_figures(usage)
            return
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                self._streamed_text.append(delta["content"])
            if ctx.output_guard is not None and isinstance(delta, dict):
                self._guard_choice(ctx.output_guard, choice, delta)

    def _guard_choice(self, guard: OutputGuard, choice: dict[str, Any], delta: dict[str, Any]) -> None:
        """A streamed choice's text through the output guard: held back, masked or stopped, restored."""
        index = choice.get("index", 0)
        stream = self._guarded.get(index)
        if stream is None:
            stream = self._guarded[index] = guard.stream()
        text = delta.get("content")
        out = stream.feed(text) if isinstance(text, str) else ""
        if choice.get("finish_reason"):
            out += stream.flush()
        if isinstance(text, str) or out:
            delta["content"] = out
        if stream.stopped:
            # Blocked: the choice ends here for the client, as OpenAI ends a filtered one; the
            # model's later words are dropped, and so is its own finish reason.
            choice["finish_reason"] = None if index in self._filtered else "content_filter"
            self._filtered.add(index)

    def _closing_chunks(self) -> list[dict[str, Any]]:
        """At a translated stream's end: an estimated usage chunk when the provider reported none."""
        ctx = self.ctx
        if ctx.usage is not None:
            return []
        self._estimate_usage("".join(self._streamed_text))
        if ctx.usage is None:
            return []
        usage = ctx.usage
        return [
            {
                "id": f"chatcmpl-{ctx.request_id or 'gateway'}",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": ctx.served_model or "",
                "choices": [],
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
            }
        ]

    def _estimate_usage(self, completion_text: str) -> None:
        """Count usage the provider did not report, and say so."""
        ctx = self.ctx
        if ctx.endpoint is None or ctx.body is None:
            return
        estimator = self._gateway.estimator
        model = ctx.endpoint.model
        ctx.usage = Usage(
            prompt_tokens=estimator.prompt_tokens(model, ctx.body, ctx.kind),
            completion_tokens=estimator.completion_tokens(model, completion_text) if completion_text else 0,
            model=ctx.endpoint.upstream_model,
        )
        ctx.usage_estimated = True
        ctx.decisions.append("usage_estimated")

    def _gateway_figures(self, usage: Usage) -> dict[str, Any]:
        """What the stream's usage chunk tells the client about the answer."""
        ctx = self.ctx
        cost = self._gateway.pricing.cost_usd(ctx.endpoint, usage) if ctx.endpoint else None
        cost = ctx.cost_usd = self._charge_unanswered(cost)
        return {
            "served_model": ctx.served_model,
            "provider": ctx.endpoint.provider if ctx.endpoint else None,
            "cost_usd": cost,
            "usage_estimated": ctx.usage_estimated,
        }

    # --- cache hits ----------------------------------------------------------

    async def _replay(self, spec: EndpointSpec, ran: list[Stage]) -> Reply:
        """A cached answer in the client's format (buffered, or a whole SSE stream), through this
        request's output policy; the stages that saw the request then see its answer."""
        ctx = self.ctx
        entry = ctx.cache_hit
        assert entry is not None
        payload = copy.deepcopy(entry.payload)
        ctx.status = 200
        ctx.usage = spec.usage(payload)
        ctx.cost_usd = 0.0
        headers = {
            **ctx.client_headers,
            **self._id_header(),
            AGE_HEADER: str(entry.age_seconds()),
            SERVED_MODEL_HEADER: entry.served_model,
            PROVIDER_HEADER: entry.provider,
            COST_HEADER: "0",
        }
        if ctx.stream:
            writer = spec.client_format.stream_writer(ctx.requested_model or "", ctx.client_wants_stream_usage, ctx.client_body)
            out = bytearray()
            for chunk in as_chunks(payload):
                for choice in chunk.get("choices") or ():
                    if ctx.output_guard is not None and isinstance(choice.get("delta"), dict):
                        self._guard_choice(ctx.output_guard, choice, choice["delta"])
                out += writer.feed(chunk)
            out += writer.close()
            body, headers["content-type"] = bytes(out), "text/event-stream"
        else:
            if ctx.output_guard is not None:
                _guard_answer(ctx.output_guard, payload)
            body = orjson.dumps(spec.client_format.answer(payload, ctx.requested_model or "", ctx.client_body))
            headers["content-type"] = "application/json"
        for stage in ran:
            await stage.on_response(ctx)
        return Reply(200, body, headers, reason="cache_hit")

    def reply_metadata(self, reply: Reply) -> dict[str, object]:
        """The access log's fields for a request the service answered itself (a refusal, a cache hit)."""
        ctx = self.ctx
        if ctx.cache_hit is not None and reply.status == 200:
            meta = self._response_metadata()
            meta["served_model"] = ctx.cache_hit.served_model
            meta["provider"] = ctx.cache_hit.provider
            return meta
        return {
            "tenant": ctx.tenant,
            "requested_model": clipped(ctx.requested_model),
            "decisions": list(ctx.decisions),
            "error": clipped(reply.reason, MAX_MESSAGE_CHARS) or None,
        }

    # --- helpers -------------------------------------------------------------

    async def _finish(self) -> None:
        ctx = self.ctx
        self._finished = True
        if self._assembler is not None:
            ctx.cache_answer = self._assembler.completion()
        if self._unanswered.attempts and not self._unanswered.charged:
            if ctx.cost_usd is None and ctx.usage is not None and ctx.endpoint is not None:
                ctx.cost_usd = self._gateway.pricing.cost_usd(ctx.endpoint, ctx.usage)
            ctx.cost_usd = self._charge_unanswered(ctx.cost_usd)
            if ctx.cost_usd is not None:  # also on Envoy's error reply, which accounting does not price
                ctx.client_headers[COST_HEADER] = format_usd(ctx.cost_usd)
        for stage in self._gateway.stages:
            with self._trace.stage(f"{stage.name} (response)", ctx):
                await stage.on_response(ctx)
        usage, endpoint = ctx.usage, ctx.endpoint
        metrics.record_answer(
            route=ctx.route.name if ctx.route else None,
            model=endpoint.upstream_model if endpoint else None,
            response_model=usage.model if usage else None,
            provider=endpoint.provider if endpoint else None,
            tenant=ctx.tenant,
            status=ctx.status,
            stream=ctx.stream,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            cached_tokens=usage.cached_tokens if usage else None,
            cost_usd=ctx.cost_usd,
            usage_estimated=ctx.usage_estimated,
            duration_s=ctx.elapsed_ms() / 1000.0,
            operation=ctx.kind,  # "chat" or "embeddings": the GenAI operation names
            attempt=_int_or_none(ctx.client_headers.get(attempts.ATTEMPT_HEADER)),
            time_to_first_token_s=ctx.first_output_at - ctx.started if ctx.first_output_at is not None else None,
            time_per_output_token_s=self._time_per_output_token(),
            upstream_latency_s=_seconds(ctx.response_headers.get(UPSTREAM_SERVICE_TIME_HEADER)),
        )

    def _charge_unanswered(self, cost: float | None) -> float | None:
        """`cost` plus the prompts of the attempts that went unanswered, once (see attempts.Unanswered)."""
        ctx = self.ctx
        if ctx.route is None or ctx.body is None or self._unanswered.charged or not self._unanswered.attempts:
            return cost
        gateway = self._gateway
        cost = self._unanswered.add_to(cost, ctx.route.endpoints, ctx.body, ctx.kind, gateway.estimator, gateway.pricing)
        ctx.decisions.append(f"unanswered_attempts:{len(self._unanswered.attempts)}")
        return cost

    def _time_per_output_token(self) -> float | None:
        """A stream's time per output token after the first (None for buffered answers)."""
        ctx = self.ctx
        tokens = ctx.usage.completion_tokens if ctx.usage else None
        if ctx.first_output_at is None or not tokens or tokens < 2:
            return None
        return (time.monotonic() - ctx.first_output_at) / (tokens - 1)

    def close(self) -> None:
        """The stream has ended: count the service's own time on this request and end its trace.

        A request that went to a provider and whose end never came (the client hung up, so
        Envoy ended the stream early) is finished here first, on a task of its own: its
        reservation is settled, what it used is charged and counted, and nothing is cached.
        """
        if self._forwarded and not self._finished and not self._replied:
            task = asyncio.get_running_loop().create_task(self._finish_abandoned())
            _ABANDONED.add(task)  # a reference until it is done: the loop keeps only weak ones
            task.add_done_callback(_ABANDONED.discard)
            return
        self._closed()

    async def _finish_abandoned(self) -> None:
        ctx = self.ctx
        ctx.error = ctx.error or CLIENT_DISCONNECTED
        ctx.decisions.append(CLIENT_DISCONNECTED)
        self._assembler = None  # a partial answer is never cached
        if ctx.status is None:
            # No answer had started: nothing to charge; the reservation goes back whole.
            ctx.status = CLIENT_CLOSED_REQUEST
        elif ctx.usage is None:
            # The provider was answering: charge the prompt and what was streamed so far.
            self._estimate_usage("".join(self._streamed_text))
        try:
            await self._finish()
        except Exception:  # a store or a bug: logged, never raised into nowhere
            log.exception("request %s: finishing after the client went away failed", ctx.request_id)
        finally:
            self._closed()

    def _closed(self) -> None:
        ctx = self.ctx
        metrics.record_overhead(route=ctx.route.name if ctx.route else None, seconds=ctx.service_seconds)
        self._trace.end_request(ctx)

    def replied(self, reply: Reply) -> None:
        """Note that the service answered this request itself (for its trace)."""
        self._replied = True
        self._trace.replied(reply.status, reply.reason)

    def _reject(self, error: GatewayError) -> Reply:
        self.ctx.decisions.append(f"rejected:{error.code or error.status}")
        metrics.record_rejection(reason=error.code or "error", status=error.status)
        return Reply.from_error(error, self._id_header(), body=self._error_body(error))

    def _error_body(self, error: GatewayError) -> bytes:
        return self.client_format.error_body(error.status, error.message, code=error.code, param=error.param, type_=error.type)

    @property
    def client_format(self) -> ClientFormat:
        """The client's format: the endpoint's once known, else the path's (`/v1/messages/...` is Anthropic's)."""
        if self._spec is not None:
            return self._spec.client_format
        lane = self.ctx.lane
        return client_formats.for_path(self.ctx.path[len(lane.prefix):] if lane is not None else self.ctx.path)

    def internal_error(self) -> Reply:
        """The 500 for a failure of the gateway itself, in the client's format."""
        error = GatewayError(500, "The gateway failed to process this request.", code="internal_error")
        return Reply.from_error(error, body=self._error_body(error))

    def _unknown_endpoint(self) -> GatewayError:
        ctx = self.ctx
        path = ctx.path.split("?", 1)[0]
        lane_prefix = ctx.lane.prefix if ctx.lane is not None else ""
        if self._gateway.registry.knows_path(path[len(lane_prefix):]):
            return GatewayError(405, f"Method {clipped(ctx.method, 16)} is not allowed on {clipped(path)}.", code="method_not_allowed")
        return GatewayError(404, f"Unknown endpoint {clipped(ctx.method, 16)} {clipped(path)}.", code="unknown_endpoint")

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

    def _set_attempt_headers(self, headers: dict[str, str], metadata: dict[str, Any]) -> None:
        """Which attempt answered, and the log of all of them when the upstream filter kept one."""
        ctx = self.ctx
        log = attempts.from_metadata(metadata, attempts.envoy_count(headers))
        self._unanswered.attempts = attempts.unanswered(log)
        if log:
            ctx.client_headers.update(attempts.client_headers(log))
            if len(log) > 1:
                ctx.decisions.append(f"attempts:{log[-1].number}")
        elif attempts.ATTEMPT_COUNT_HEADER in headers:  # no upstream filter: Envoy's count only
            ctx.client_headers[attempts.ATTEMPT_HEADER] = headers[attempts.ATTEMPT_COUNT_HEADER]

    def _request_metadata(self) -> dict[str, object]:
        ctx = self.ctx
        return {
            "tenant": ctx.tenant,
            # Envoy's local_reply_config answers in this format when the provider fails.
            "client_format": self._spec.client_format.name if self._spec is not None else None,
            "requested_model": clipped(ctx.requested_model),
            "route": ctx.route.name if ctx.route else None,
            "stream": ctx.stream,
            # The upstream filter refuses fallbacks beyond this level (cost cap).
            "max_priority": ctx.max_priority,
        }

    def _response_metadata(self) -> dict[str, object]:
        ctx = self.ctx
        meta: dict[str, object] = {
            **self._request_metadata(),
            "served_model": ctx.served_model,
            "provider": ctx.endpoint.provider if ctx.endpoint else None,
            "decisions": list(ctx.decisions),
            "attempts": ctx.client_headers.get(attempts.ATTEMPTS_HEADER),
            "error": clipped(ctx.error, MAX_MESSAGE_CHARS),
            "cache": ctx.cache_outcome or "off",
        }
        if ctx.usage is not None:
            meta["prompt_tokens"] = ctx.usage.prompt_tokens
            meta["completion_tokens"] = ctx.usage.completion_tokens
        if ctx.cost_usd is not None:
            meta["cost_usd"] = ctx.cost_usd
        if ctx.redactions:
            meta["redactions"] = ctx.redactions
        guard = ctx.output_guard
        if guard is not None and guard.counts:
            meta["output_policy"] = {"action": "block" if guard.blocked else "mask", "entities": dict(guard.counts)}
        if ctx.log_text:
            meta.update(self._logged_text())
        return meta

    def _logged_text(self) -> dict[str, str]:
        """The prompt as the provider got it and the completion as the policy let it out, for a route
        that opted in; cut at LOGGED_TEXT_CHARS each."""
        ctx = self.ctx
        prompt = orjson.dumps((ctx.body or {}).get("messages") or (ctx.body or {}).get("input")).decode()
        completion = self._completion_for_log
        if completion is None:
            completion = "".join(self._streamed_text)
        if ctx.output_guard is not None:
            completion = ctx.output_guard.masked(completion)
        return {"prompt_text": _clip(prompt), "completion_text": _clip(completion)}


def _seconds(milliseconds: str | None) -> float | None:
    value = _int_or_none(milliseconds)
    return value / 1000.0 if value is not None else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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


def _is_openai_error(body: bytes) -> bool:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and isinstance(payload.get("error"), dict)


def _clip(text: str) -> str:
    return text if len(text) <= LOGGED_TEXT_CHARS else text[:LOGGED_TEXT_CHARS] + "...[cut]"


def _guard_answer(guard: OutputGuard, payload: dict[str, Any]) -> bool:
    """A buffered canonical answer's texts through the output guard, in place; True when any changed."""
    changed = False
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            continue
        text, blocked = guard.whole(message["content"])
        if blocked:
            choice["finish_reason"] = "content_filter"
        if text != message["content"]:
            message["content"] = text
            changed = True
    return changed


def _completion_text(payload: dict[str, Any]) -> str:
    """The text of a canonical answer's choices, for usage estimates."""
    parts = []
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            parts.append(message["content"])
    return "".join(parts)
