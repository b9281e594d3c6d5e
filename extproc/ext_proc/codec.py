"""The only module that reads and builds ext_proc protobuf messages.

`decode` turns a `ProcessingRequest` into a plain `phases.Message`: headers,
body, end of stream, the attributes Envoy attached (metadata attributes
arrive as protobuf text format inside a string value; they are parsed here
into their `llm_gateway` namespace), and the forwarded dynamic metadata.
`encode` turns a processor's decision (`Reply` or `Changes`) into the
`ProcessingResponse` for that phase. Everything else speaks Python values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3 import http_status_pb2
from google.protobuf import json_format, struct_pb2, text_format

from extproc.config.envoy_yaml import METADATA_NAMESPACE
from extproc.config.fallback_list import LB_NAMESPACE
from extproc.decisions import Changes, Reply
from extproc.phases import METADATA_ATTRIBUTES, Message

# Pre-built replies for the common "nothing to change" case.
_CONTINUE = {
    "request_headers": pb.ProcessingResponse(request_headers=pb.HeadersResponse()),
    "request_body": pb.ProcessingResponse(request_body=pb.BodyResponse()),
    "response_headers": pb.ProcessingResponse(response_headers=pb.HeadersResponse()),
    "response_body": pb.ProcessingResponse(response_body=pb.BodyResponse()),
    "request_trailers": pb.ProcessingResponse(request_trailers=pb.TrailersResponse()),
    "response_trailers": pb.ProcessingResponse(response_trailers=pb.TrailersResponse()),
}
_STREAMED_RESPONSE_BODY = processing_mode_pb2.ProcessingMode(
    response_body_mode=processing_mode_pb2.ProcessingMode.STREAMED,
    response_header_mode=processing_mode_pb2.ProcessingMode.SEND,
)
_HEADERS_PHASES = ("request_headers", "response_headers")
_BODY_PHASES = ("request_body", "response_body")


# --- in ---------------------------------------------------------------------------


def decode(request: pb.ProcessingRequest) -> Message:
    """One ext_proc message as plain values."""
    phase = request.WhichOneof("request") or ""
    message = Message(phase, attributes=attributes_dict(request), metadata=metadata_dict(request))
    if phase in _HEADERS_PHASES:
        part = getattr(request, phase)
        message.headers = headers_dict(part)
        message.end_of_stream = part.end_of_stream
    elif phase in _BODY_PHASES:
        part = getattr(request, phase)
        message.body = part.body
        message.end_of_stream = part.end_of_stream
    return message


def headers_dict(message: pb.HttpHeaders) -> dict[str, str]:
    """HTTP headers of an ext_proc message as a dict (last value wins)."""
    return {h.key: h.raw_value.decode("utf-8", "replace") if h.raw_value else h.value for h in message.headers.headers}


def attributes_dict(request: pb.ProcessingRequest) -> dict[str, Any]:
    """Request or response attributes Envoy attached, flattened to plain values; metadata
    attributes reduced to their `llm_gateway` namespace."""
    result: dict[str, Any] = {}
    for struct in request.attributes.values():
        for key, value in struct.fields.items():
            kind = value.WhichOneof("kind")
            plain = value.string_value if kind == "string_value" else json_format.MessageToDict(value)
            result[key] = gateway_metadata(plain) if key in METADATA_ATTRIBUTES and isinstance(plain, str) else plain
    return result


@lru_cache(maxsize=1024)
def _parsed_metadata(text: str) -> tuple[tuple[str, Any], ...]:
    metadata = base_pb2.Metadata()
    try:
        text_format.Parse(text, metadata)
    except text_format.ParseError:
        return ()
    if METADATA_NAMESPACE not in metadata.filter_metadata:
        return ()
    return tuple(json_format.MessageToDict(metadata.filter_metadata[METADATA_NAMESPACE]).items())


def gateway_metadata(text: str) -> dict[str, Any]:
    """The `llm_gateway` namespace of a text-format Metadata attribute ({} if absent or unreadable).

    The same few strings repeat for every request, so parses are memoised."""
    return dict(_parsed_metadata(text)) if text else {}


def metadata_dict(request: pb.ProcessingRequest) -> dict[str, Any]:
    """The `llm_gateway` dynamic metadata Envoy forwarded with this message (metadata_options)."""
    namespaces = request.metadata_context.filter_metadata
    if METADATA_NAMESPACE not in namespaces:
        return {}
    return cast("dict[str, Any]", json_format.MessageToDict(namespaces[METADATA_NAMESPACE]))  # protobuf is untyped here


# --- out --------------------------------------------------------------------------


def encode(phase: str, decision: Reply | Changes) -> pb.ProcessingResponse:
    """The response to one message of `phase`."""
    if isinstance(decision, Reply):
        return reply_response(decision)
    return changes_response(phase, decision)


def continue_response(phase: str) -> pb.ProcessingResponse:
    """Let the message through unchanged."""
    return _CONTINUE[phase]


def changes_response(phase: str, changes: Changes) -> pb.ProcessingResponse:
    """Let the message through with header, body and metadata changes."""
    if changes.is_empty():
        return _CONTINUE[phase]
    common = pb.CommonResponse(clear_route_cache=changes.clear_route_cache)
    if changes.set_headers or changes.remove_headers:
        mutation = common.header_mutation
        mutation.set_headers.extend(_header_options(changes.set_headers))
        mutation.remove_headers.extend(changes.remove_headers)
    if changes.body is not None:
        common.body_mutation.body = changes.body
    response = pb.ProcessingResponse()
    if phase in _HEADERS_PHASES or phase in _BODY_PHASES:
        getattr(response, phase).response.CopyFrom(common)
    else:
        getattr(response, phase).SetInParent()
    if changes.stream_body and phase == "response_headers":
        response.mode_override.CopyFrom(_STREAMED_RESPONSE_BODY)
    if changes.metadata or changes.lb_metadata:
        response.dynamic_metadata.CopyFrom(metadata_struct(changes.metadata or {}, changes.lb_metadata))
    return response


def reply_response(reply: Reply) -> pb.ProcessingResponse:
    """Answer the client now (ext_proc ImmediateResponse)."""
    immediate = pb.ImmediateResponse(
        status=http_status_pb2.HttpStatus(code=reply.status),
        body=reply.body,
        details=_details(reply.reason),
    )
    immediate.headers.set_headers.extend(_header_options(reply.headers))
    response = pb.ProcessingResponse(immediate_response=immediate)
    if reply.metadata:
        response.dynamic_metadata.CopyFrom(metadata_struct(reply.metadata))
    return response


def metadata_struct(values: dict[str, object], lb: dict[str, str] | None = None) -> struct_pb2.Struct:
    """Dynamic metadata under the gateway's namespace, for the access log; `lb` under Envoy's load
    balancer's (`envoy.lb`: the subset a fallback list's positions pick)."""
    outer = struct_pb2.Struct()
    inner = outer.fields[METADATA_NAMESPACE].struct_value
    inner.update({k: v for k, v in values.items() if v is not None})
    if lb:
        outer.fields[LB_NAMESPACE].struct_value.update(lb)
    return outer


def _header_options(headers: dict[str, str]) -> list[base_pb2.HeaderValueOption]:
    return [
        base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(key=key, raw_value=value.encode()),
            append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
        )
        for key, value in headers.items()
    ]


def _details(reason: str) -> str:
    # Envoy's response code details must not contain whitespace.
    cleaned = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in reason)[:64]
    return f"{METADATA_NAMESPACE}_{cleaned}" if cleaned else METADATA_NAMESPACE
