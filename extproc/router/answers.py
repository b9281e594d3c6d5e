"""Answers in the client's format: a provider's buffered answer or error, and a cached answer replayed.

Every answer goes through the stages that saw its request, in reverse order
(`stages/base.py`), in the canonical format, then into the client's format
(`formats/`). A native OpenAI answer to an OpenAI client that no stage
changed goes out as the provider wrote it: Envoy forwards its own bytes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from extproc.cache.replay import as_chunks
from extproc.context import RequestContext
from extproc.decisions import Changes, Reply
from extproc.endpoints import EndpointSpec
from extproc.endpoints.embeddings import tail_usage
from extproc.errors import GatewayError
from extproc.formats import OPENAI, ClientFormat, error_body
from extproc.stages.base import Stage
from extproc.translation import ProviderTranslator
from extproc.translation.errors import error_message

log = logging.getLogger(__name__)


def buffered_answer(
    ctx: RequestContext, spec: EndpointSpec, translator: ProviderTranslator | None, body: bytes, back: Sequence[Stage]
) -> Changes:
    """A buffered 2xx answer: canonical, through the stages, then the client's format."""
    native = translator is None or translator.openai_compatible
    if native and ctx.kind == "embeddings" and spec.client_format is OPENAI:
        # Passed through as it came: the stages see only its usage, and a 60 MB answer of floats
        # would hold the event loop for half a second to parse.
        usage = tail_usage(body)
        for stage in back:
            stage.on_answer(ctx, {"usage": usage} if usage is not None else {})
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
            ctx.request_id, ctx.endpoint.provider if ctx.endpoint else "the provider", ctx.status, type(exc).__name__,
        )  # fmt: skip
        ctx.status = 502
        error = GatewayError(502, "The model provider sent a malformed answer.", code="bad_upstream_response")
        return error_changes(spec.client_format, error)
    if not isinstance(payload, dict):
        return Changes()
    changed = False
    for stage in back:
        changed |= stage.on_answer(ctx, payload)
    if native and spec.client_format is OPENAI and not changed:
        return Changes()
    answer = spec.client_format.answer(payload, ctx.requested_model or "", ctx.client_body)
    return Changes(set_headers={"content-type": "application/json"}).replace_body(orjson.dumps(answer))


def upstream_error(spec: EndpointSpec, translator: ProviderTranslator | None, status: int, body: bytes) -> Changes:
    """A provider's error in the client's error format, keeping the provider's message."""
    native = translator is None or translator.openai_compatible
    if spec.client_format is OPENAI and native and _is_openai_error(body):
        return Changes()
    if translator is not None:
        message, type_ = translator.error(status, body)
    else:
        message = error_message(body) or f"The model provider answered with HTTP {status}."
        type_ = None
    return error_changes(spec.client_format, GatewayError(status, message, code="upstream_error", type=type_))


def error_changes(client_format: ClientFormat, error: GatewayError) -> Changes:
    """A buffered answer replaced by the gateway's error, status included."""
    body = error_body(client_format, error)
    return Changes(set_headers={"content-type": "application/json", ":status": str(error.status)}).replace_body(body)


def replay(ctx: RequestContext, spec: EndpointSpec, back: Sequence[Stage], headers: dict[str, str]) -> Reply:
    """A cache hit in the client's format (buffered, or a whole SSE stream), through the stages that
    saw the request (so through this request's output policy)."""
    assert ctx.cache_hit is not None
    payload: dict[str, Any] = copy.deepcopy(ctx.cache_hit.payload)
    headers = {**ctx.client_headers, **headers}
    if ctx.stream:
        writer = spec.client_format.stream_writer(ctx.requested_model or "", ctx.client_wants_stream_usage, ctx.client_body)
        out = bytearray()
        for chunk in as_chunks(payload):
            for stage in back:
                stage.on_chunk(ctx, chunk)
            out += writer.feed(chunk)
        out += writer.close()
        body, headers["content-type"] = bytes(out), "text/event-stream"
    else:
        for stage in back:
            stage.on_answer(ctx, payload)
        body = orjson.dumps(spec.client_format.answer(payload, ctx.requested_model or "", ctx.client_body))
        headers["content-type"] = "application/json"
    return Reply(200, body, headers, reason="cache_hit")


def _is_openai_error(body: bytes) -> bool:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and isinstance(payload.get("error"), dict)
