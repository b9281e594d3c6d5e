"""The protobuf edge: plain decisions to ext_proc responses, ext_proc requests to plain values."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from google.protobuf import json_format

from extproc.decisions import Changes, Reply
from extproc.errors import GatewayError
from extproc.ext_proc.codec import (
    attributes_dict,
    changes_response,
    continue_response,
    decode,
    headers_dict,
    reply_response,
)
from extproc.ext_proc.server import answer

PHASES_WITH_COMMON = ["request_headers", "request_body", "response_headers", "response_body"]
ALL_PHASES = [*PHASES_WITH_COMMON, "request_trailers", "response_trailers"]
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def _common(response: pb.ProcessingResponse, phase: str) -> pb.CommonResponse:
    assert response.WhichOneof("response") == phase
    return getattr(response, phase).response


def _gateway_metadata(response: pb.ProcessingResponse) -> dict[str, Any]:
    assert list(response.dynamic_metadata.fields) == ["llm_gateway"]
    return json_format.MessageToDict(response.dynamic_metadata.fields["llm_gateway"].struct_value)


@pytest.mark.parametrize("phase", ALL_PHASES)
def test_nothing_to_change_continues_the_phase(phase: str) -> None:
    for response in (continue_response(phase), changes_response(phase, Changes())):
        assert response.WhichOneof("response") == phase
        assert not response.HasField("mode_override") and not response.HasField("dynamic_metadata")
        if phase in PHASES_WITH_COMMON:
            assert not getattr(response, phase).HasField("response")


@pytest.mark.parametrize("phase", PHASES_WITH_COMMON)
def test_headers_are_set_as_raw_values_that_overwrite(phase: str) -> None:
    response = changes_response(phase, Changes(set_headers={"x-gateway-model": "gpt-4o", "x-tag": "é"}))
    options = _common(response, phase).header_mutation.set_headers
    assert [(o.header.key, o.header.raw_value, o.header.value) for o in options] == [
        ("x-gateway-model", b"gpt-4o", ""),
        ("x-tag", "é".encode(), ""),
    ]
    assert all(o.append_action == OVERWRITE for o in options)


@pytest.mark.parametrize("phase", PHASES_WITH_COMMON)
def test_headers_are_removed(phase: str) -> None:
    common = _common(changes_response(phase, Changes(remove_headers=["content-length", "x-a"])), phase)
    assert list(common.header_mutation.remove_headers) == ["content-length", "x-a"]
    assert not common.header_mutation.set_headers and not common.HasField("body_mutation")


@pytest.mark.parametrize("phase", PHASES_WITH_COMMON)
def test_body_is_replaced(phase: str) -> None:
    common = _common(changes_response(phase, Changes(body=b'{"model":"gpt-4o"}')), phase)
    assert common.body_mutation.body == b'{"model":"gpt-4o"}'
    assert not common.HasField("header_mutation") and not common.clear_route_cache


def test_an_empty_body_is_still_a_replacement() -> None:
    common = _common(changes_response("response_body", Changes(body=b"")), "response_body")
    assert common.HasField("body_mutation") and common.body_mutation.WhichOneof("mutation") == "body"


def test_replace_body_sets_a_matching_content_length() -> None:
    body = '{"a":"ü"}'.encode()
    common = _common(changes_response("request_body", Changes().replace_body(body)), "request_body")
    [option] = common.header_mutation.set_headers
    assert (option.header.key, option.header.raw_value) == ("content-length", str(len(body)).encode())


def test_route_cache_is_cleared_when_asked() -> None:
    assert _common(changes_response("request_body", Changes(clear_route_cache=True)), "request_body").clear_route_cache
    assert not _common(changes_response("request_body", Changes(body=b"x")), "request_body").clear_route_cache


def test_stream_body_switches_the_response_body_to_streamed() -> None:
    response = changes_response("response_headers", Changes(remove_headers=["content-length"], stream_body=True))
    assert response.mode_override.response_body_mode == processing_mode_pb2.ProcessingMode.STREAMED
    assert response.mode_override.response_header_mode == processing_mode_pb2.ProcessingMode.SEND
    assert list(response.response_headers.response.header_mutation.remove_headers) == ["content-length"]


@pytest.mark.parametrize("phase", ["request_headers", "request_body", "response_body"])
def test_stream_body_is_ignored_outside_response_headers(phase: str) -> None:
    response = changes_response(phase, Changes(stream_body=True, set_headers={"x": "1"}))
    assert not response.HasField("mode_override")


@pytest.mark.parametrize("phase", ALL_PHASES)
def test_metadata_goes_under_the_gateway_namespace_without_nones(phase: str) -> None:
    metadata = {"route": "gpt-4o", "stream": True, "prompt_tokens": 12, "decisions": ["route:gpt-4o"], "error": None}
    response = changes_response(phase, Changes(metadata=metadata))
    assert response.WhichOneof("response") == phase
    assert _gateway_metadata(response) == {
        "route": "gpt-4o",
        "stream": True,
        "prompt_tokens": 12,
        "decisions": ["route:gpt-4o"],
    }


# --- immediate replies ----------------------------------------------------------


def test_reply_is_an_immediate_response_with_status_body_and_headers() -> None:
    error = GatewayError(404, "The model 'x' does not exist.", code="model_not_found", param="model")
    response = reply_response(Reply.from_error(error, {"x-gateway-request-id": "r1"}))
    immediate = response.immediate_response
    assert response.WhichOneof("response") == "immediate_response"
    assert immediate.status.code == 404
    assert orjson.loads(immediate.body)["error"]["code"] == "model_not_found"
    headers = {o.header.key: o.header.raw_value.decode() for o in immediate.headers.set_headers}
    assert headers == {"content-type": "application/json", "x-gateway-request-id": "r1"}
    assert all(o.append_action == OVERWRITE for o in immediate.headers.set_headers)
    assert immediate.details == "llm_gateway_model_not_found"


@pytest.mark.parametrize(
    "reason", ["The request body is missing.", "tab\there\nnewline", "x" * 200, "ünïcödé reason", ""]
)
def test_reply_details_never_contain_whitespace(reason: str) -> None:
    details = reply_response(Reply(status=400, body=b"{}", reason=reason)).immediate_response.details
    assert details.startswith("llm_gateway")
    assert not any(ch.isspace() for ch in details)
    assert len(details) <= len("llm_gateway_") + 64


def test_reply_metadata_is_attached_only_when_given() -> None:
    reply = Reply.json(200, b'{"object":"list","data":[]}')
    assert not reply_response(reply).HasField("dynamic_metadata")
    reply.metadata = {"tenant": "anonymous", "requested_model": None}
    with_meta = reply_response(reply)
    assert _gateway_metadata(with_meta) == {"tenant": "anonymous"}


# --- protobuf in ----------------------------------------------------------------


def test_headers_dict_prefers_raw_values_and_keeps_the_last_duplicate() -> None:
    message = pb.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[
                base_pb2.HeaderValue(key=":path", raw_value=b"/v1/chat/completions"),
                base_pb2.HeaderValue(key="x-legacy", value="old-style"),
                base_pb2.HeaderValue(key="x-dup", raw_value=b"first"),
                base_pb2.HeaderValue(key="x-dup", raw_value=b"second"),
                base_pb2.HeaderValue(key="x-bin", raw_value=b"a\xffb"),
            ]
        )
    )
    assert headers_dict(message) == {
        ":path": "/v1/chat/completions",
        "x-legacy": "old-style",
        "x-dup": "second",
        "x-bin": "a\ufffdb",
    }


def test_attributes_dict_flattens_every_filter_namespace() -> None:
    request = pb.ProcessingRequest()
    ext_proc = request.attributes["envoy.filters.http.ext_proc"]
    ext_proc.fields["xds.cluster_name"].string_value = "fake_openai_gpt_4o"
    ext_proc.fields["xds.upstream_host_metadata"].string_value = (
        'filter_metadata { key: "llm_gateway" value { fields { key: "model" value { string_value: "openai/gpt-4o" } } } }'
    )
    ext_proc.fields["xds.route_metadata"].string_value = "garbage {"
    ext_proc.fields["count"].number_value = 3
    ext_proc.fields["nested"].struct_value.update({"k": "v"})
    request.attributes["other"].fields["flag"].bool_value = True
    assert attributes_dict(request) == {
        "xds.cluster_name": "fake_openai_gpt_4o",
        # Metadata attributes arrive parsed: their `llm_gateway` namespace ({} when unreadable).
        "xds.upstream_host_metadata": {"model": "openai/gpt-4o"},
        "xds.route_metadata": {},
        "count": 3,
        "nested": {"k": "v"},
        "flag": True,
    }


def test_no_attributes_is_an_empty_dict() -> None:
    assert attributes_dict(pb.ProcessingRequest()) == {}


# --- dispatch -------------------------------------------------------------------


async def _boom(*args: object) -> Changes:
    raise RuntimeError("boom")


def _failing(kind: str, path: str = "/v1/chat/completions") -> Any:
    """A real processor of `kind` that has seen `path` and whose body phase then fails."""

    from extproc.app import build_gateway
    from extproc.router.processor import RouterProcessor
    from extproc.tenancy.settings import Settings
    from extproc.upstream.processor import UpstreamProcessor
    from tests.support.gateway_config import gateway_config

    gateway = build_gateway(gateway_config("gpt-4o"), settings=Settings(auth_mode="none"))
    if kind == "router":
        processor: Any = RouterProcessor(gateway)
        processor.ctx.path = path
    else:
        processor = UpstreamProcessor(gateway.credentials, {}, {})
    processor.request_body = _boom
    return processor


@pytest.mark.parametrize("kind", ["router", "upstream"])
async def test_a_failing_processor_answers_500_in_openai_json(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    request = pb.ProcessingRequest(request_body=pb.HttpBody(body=b"{}"))
    response = await answer(_failing(kind), request)
    assert response.immediate_response.status.code == 500
    assert orjson.loads(response.immediate_response.body)["error"]["code"] == "internal_error"
    assert "boom" in caplog.text  # logged with its traceback, not sent to the client
    assert b"boom" not in response.immediate_response.body


async def test_a_failure_on_the_anthropic_path_answers_in_anthropics_format() -> None:
    request = pb.ProcessingRequest(request_body=pb.HttpBody(body=b"{}"))
    response = await answer(_failing("router", "/v1/messages"), request)
    body = orjson.loads(response.immediate_response.body)
    assert response.immediate_response.status.code == 500
    assert body["type"] == "error" and body["error"]["type"] == "api_error"


@pytest.mark.parametrize("kind", ["router", "upstream"])
async def test_trailers_continue_without_calling_the_processor(kind: str) -> None:
    request = pb.ProcessingRequest(request_trailers=pb.HttpTrailers())
    assert await answer(_failing(kind), request) == continue_response("request_trailers")


def test_decode_gives_a_plain_message_of_each_phase() -> None:
    headers = pb.HttpHeaders(headers=base_pb2.HeaderMap(headers=[base_pb2.HeaderValue(key=":status", raw_value=b"200")]),
                             end_of_stream=True)  # fmt: skip
    request = pb.ProcessingRequest(response_headers=headers)
    request.attributes["envoy.filters.http.ext_proc"].fields["source.address"].string_value = "127.0.0.1:5000"
    request.metadata_context.filter_metadata["llm_gateway"].update({"attempt_1": "openai gpt-4o 200 3"})
    message = decode(request)
    assert (message.phase, message.headers, message.end_of_stream) == ("response_headers", {":status": "200"}, True)
    assert message.attributes == {"source.address": "127.0.0.1:5000"}
    assert message.metadata == {"attempt_1": "openai gpt-4o 200 3"}
    body = decode(pb.ProcessingRequest(request_body=pb.HttpBody(body=b"{}", end_of_stream=True)))
    assert (body.phase, body.body, body.end_of_stream, body.headers) == ("request_body", b"{}", True, {})
