"""The only module that builds ext_proc protobuf responses.

It turns the plain decisions of `decisions.py` into `ProcessingResponse`s for
each phase. Everything else in the service speaks Python values.
"""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2

from extproc.decisions import Changes, Reply

METADATA_NAMESPACE = "llm_gateway"

_EMPTY_COMMON = pb.CommonResponse()
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
        for key, value in changes.set_headers.items():
            mutation.set_headers.append(
                base_pb2.HeaderValueOption(
                    header=base_pb2.HeaderValue(key=key, raw_value=value.encode()),
                    append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
                )
            )
        mutation.remove_headers.extend(changes.remove_headers)
    if changes.body is not None:
        common.body_mutation.body = changes.body
    response = pb.ProcessingResponse()
    if phase in _HEADERS_PHASES:
        getattr(response, phase).response.CopyFrom(common)
    elif phase in ("request_body", "response_body"):
        getattr(response, phase).response.CopyFrom(common)
    else:
        getattr(response, phase).SetInParent()
    if changes.stream_body and phase == "response_headers":
        response.mode_override.CopyFrom(_STREAMED_RESPONSE_BODY)
    if changes.metadata:
        response.dynamic_metadata.CopyFrom(metadata_struct(changes.metadata))
    return response


def reply_response(reply: Reply, metadata: dict[str, object] | None = None) -> pb.ProcessingResponse:
    """Answer the client now (ext_proc ImmediateResponse)."""
    immediate = pb.ImmediateResponse(
        status=http_status_pb2.HttpStatus(code=reply.status),
        body=reply.body,
        details=_details(reply.reason),
    )
    for key, value in reply.headers.items():
        immediate.headers.set_headers.append(
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key=key, raw_value=value.encode()),
                append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
            )
        )
    response = pb.ProcessingResponse(immediate_response=immediate)
    if metadata:
        response.dynamic_metadata.CopyFrom(metadata_struct(metadata))
    return response


def metadata_struct(values: dict[str, object]) -> struct_pb2.Struct:
    """Dynamic metadata under the gateway's namespace, for the access log."""
    outer = struct_pb2.Struct()
    inner = outer.fields[METADATA_NAMESPACE].struct_value
    inner.update({k: v for k, v in values.items() if v is not None})
    return outer


def _details(reason: str) -> str:
    # Envoy's response code details must not contain whitespace.
    cleaned = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in reason)[:64]
    return f"llm_gateway_{cleaned}" if cleaned else "llm_gateway"
