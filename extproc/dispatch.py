"""Phase dispatch: ext_proc protobuf in, processor call, ext_proc protobuf out.

This and `responses.py` are the only modules that touch ext_proc messages.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from google.protobuf import json_format

from extproc.decisions import Reply
from extproc.processor import RouterProcessor
from extproc.responses import METADATA_NAMESPACE, changes_response, continue_response, reply_response
from extproc.upstream import UpstreamProcessor

log = logging.getLogger(__name__)



def headers_dict(message: pb.HttpHeaders) -> dict[str, str]:
    """HTTP headers of an ext_proc message as a dict (last value wins)."""
    return {h.key: h.raw_value.decode("utf-8", "replace") if h.raw_value else h.value for h in message.headers.headers}


def attributes_dict(request: pb.ProcessingRequest) -> dict[str, Any]:
    """Request or response attributes Envoy attached, flattened to plain values."""
    result: dict[str, Any] = {}
    for struct in request.attributes.values():
        for key, value in struct.fields.items():
            kind = value.WhichOneof("kind")
            result[key] = value.string_value if kind == "string_value" else json_format.MessageToDict(value)
    return result


def metadata_dict(request: pb.ProcessingRequest) -> dict[str, Any]:
    """The `llm_gateway` dynamic metadata Envoy forwarded with this message (metadata_options)."""
    namespaces = request.metadata_context.filter_metadata
    if METADATA_NAMESPACE not in namespaces:
        return {}
    return json_format.MessageToDict(namespaces[METADATA_NAMESPACE])


async def dispatch_router(processor: RouterProcessor, request: pb.ProcessingRequest) -> pb.ProcessingResponse:
    """Answer one message of a router-level stream (and add the time it took to the request's overhead)."""
    started = time.perf_counter()
    try:
        return await _dispatch_router(processor, request)
    finally:
        processor.ctx.service_seconds += time.perf_counter() - started


async def _dispatch_router(processor: RouterProcessor, request: pb.ProcessingRequest) -> pb.ProcessingResponse:
    phase = request.WhichOneof("request")
    try:
        if phase == "request_headers":
            message = request.request_headers
            result = await processor.request_headers(
                headers_dict(message), message.end_of_stream, attributes_dict(request)
            )
        elif phase == "request_body":
            result = await processor.request_body(request.request_body.body)
        elif phase == "response_headers":
            message = request.response_headers
            result = await processor.response_headers(
                headers_dict(message), message.end_of_stream, attributes_dict(request), metadata_dict(request)
            )
        elif phase == "response_body":
            message = request.response_body
            result = await processor.response_body(message.body, message.end_of_stream)
        else:
            return continue_response(phase)
    except Exception:
        log.exception("request %s: %s failed", processor.ctx.request_id, phase)
        reply = processor.internal_error()
        processor.replied(reply)
        return reply_response(reply)
    if isinstance(result, Reply):
        processor.replied(result)
        return reply_response(result, processor.reply_metadata(result))
    return changes_response(phase, result)


async def dispatch_upstream(processor: UpstreamProcessor, request: pb.ProcessingRequest) -> pb.ProcessingResponse:
    """Answer one message of an upstream-level (per attempt) stream."""
    phase = request.WhichOneof("request")
    try:
        if phase == "request_headers":
            result = await processor.request_headers(
                headers_dict(request.request_headers), attributes_dict(request), metadata_dict(request)
            )
        elif phase == "request_body":
            result = await processor.request_body(request.request_body.body)
        elif phase == "response_headers":
            result = await processor.response_headers(headers_dict(request.response_headers))
        else:
            return continue_response(phase)
    except Exception:
        log.exception("upstream attempt: %s failed", phase)
        return reply_response(processor.internal_error())
    if isinstance(result, Reply):
        return reply_response(result, processor.outcome(result.status))
    return changes_response(phase, result)
