"""The upstream-level processor: each attempt rewritten for the endpoint Envoy chose."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from envoy.config.core.v3 import base_pb2
from google.protobuf import text_format

from extproc.config.catalog import load_catalog
from extproc.decisions import Changes, Reply
from extproc.ext_proc.codec import gateway_metadata
from extproc.translation import ProviderTranslator
from extproc.upstream.credentials import Credentials
from extproc.upstream.processor import UpstreamProcessor, canonical_paths, endpoints_by_cluster
from tests.support.gateway_config import gateway_config

CHAT = "/v1/chat/completions"
BODY = {"model": "smart", "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}}  # fmt: skip


def _host_metadata(fields: dict[str, Any], namespace: str = "llm_gateway") -> str:
    """The text format Envoy sends for `xds.upstream_host_metadata`."""
    metadata = base_pb2.Metadata()
    metadata.filter_metadata[namespace].update(fields)
    return text_format.MessageToString(metadata)


def _attributes(cluster: str, model: str) -> dict[str, Any]:
    """The attributes as the codec hands them over: the metadata parsed from Envoy's text format."""
    return {"xds.cluster_name": cluster, "xds.upstream_host_metadata": gateway_metadata(_host_metadata({"model": model}))}


def _processor(credentials: Credentials, endpoints: dict[tuple[str, str], Any]) -> UpstreamProcessor:
    translators = {e: ProviderTranslator.for_model(e.model, e.api_base) for e in endpoints.values()}
    return UpstreamProcessor(credentials, endpoints, translators)


@pytest.fixture(scope="module")
def shipped_endpoints() -> dict[tuple[str, str], Any]:
    return endpoints_by_cluster(load_catalog(gateway_config()))


@pytest.fixture
def processor(shipped_endpoints: dict[tuple[str, str], Any]) -> UpstreamProcessor:
    return _processor(Credentials({"FAKE_PROVIDER_API_KEY": "k"}), shipped_endpoints)


def _mixed_endpoints() -> dict[tuple[str, str], Any]:
    """One cluster with a hosted primary and a local fallback of another model."""
    lb = [
        ("openai/gpt-4o", {"api_base": "https://api.example.com/v1/", "api_key_env": "OPENAI_API_KEY"}),
        ("hosted_vllm/meta-llama/Llama-3.1-8B", {"api_base": "http://127.0.0.1:8000/v1"}),
    ]
    cluster = {
        "name": "mixed",
        "typed_extension_protocol_options": {"o": {"http_filters": [{"name": "envoy.filters.http.ext_proc"}]}},
        "load_assignment": {
            "endpoints": [
                {"priority": i, "lb_endpoints": [{"metadata": {"filter_metadata": {"llm_gateway": {"model": m, **meta}}}}]}
                for i, (m, meta) in enumerate(lb)
            ]
        },
    }
    route = {
        "match": {"headers": [{"name": "x-gateway-model", "string_match": {"exact": "smart"}}]},
        "route": {"cluster": "mixed"},
        "metadata": {"filter_metadata": {"llm_gateway": {"model": "smart"}}},
    }
    config = {
        "static_resources": {
            "listeners": [{"filter_chains": [{"filters": [{"typed_config": {"route_config": {"virtual_hosts": [{"routes": [route]}]}}}]}]}],
            "clusters": [cluster],
        }
    }
    return endpoints_by_cluster(load_catalog(config))


async def _attempt(
    processor: UpstreamProcessor, attributes: dict[str, Any], body: Any = BODY, path: str = CHAT, **headers: str
) -> Reply | Changes:
    first = await processor.request_headers({":path": path, ":method": "POST", **headers}, attributes)
    if isinstance(first, Reply):
        return first
    assert isinstance(first, Changes) and not first.set_headers and first.body is None  # the attempt log only
    return await processor.request_body(body if isinstance(body, bytes) else orjson.dumps(body))


def _error(result: Reply | Changes, status: int) -> dict[str, Any]:
    assert isinstance(result, Reply) and result.status == status, result
    return orjson.loads(result.body)["error"]


def test_the_attribute_text_is_read_back() -> None:
    text = _host_metadata({"model": "openai/gpt-4o", "api_key_env": "X"})
    assert "llm_gateway" in text and gateway_metadata(text) == {"model": "openai/gpt-4o", "api_key_env": "X"}


@pytest.mark.parametrize("text", ["", "not { protobuf", _host_metadata({"model": "x"}, namespace="envoy.lb")])
def test_unreadable_or_foreign_metadata_is_empty(text: str) -> None:
    assert gateway_metadata(text) == {}


# What a client (and Envoy before the filter) may put on the request, none of it for the provider.
CLIENT_EXTRAS = {
    "authorization": "Bearer sk-gw-client", "x-api-key": "sk-gw-client", "openai-organization": "org-operator",
    "openai-project": "proj-operator", "anthropic-beta": "some-beta", "cookie": "session=1",
    "proxy-authorization": "Basic eDp5", "x-stainless-os": "Linux", "user-agent": "OpenAI/Python",
    "accept-encoding": "gzip", "x-forwarded-for": "10.0.0.7", "x-forwarded-proto": "http",
    "x-request-id": "r-1", "x-envoy-attempt-count": "1", "x-envoy-expected-rq-timeout-ms": "60000",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "me=1",
}  # fmt: skip


async def test_attempt_is_prepared_for_the_chosen_endpoint(processor: UpstreamProcessor) -> None:
    client = {**CLIENT_EXTRAS, "content-type": "application/json", "accept": "application/json"}
    changes = await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"), **client)
    assert isinstance(changes, Changes) and changes.body is not None
    assert changes.set_headers == {
        "content-length": str(len(changes.body)),
        ":path": "/v1/chat/completions",
        ":authority": "127.0.0.1:9000",
        "authorization": "Bearer k",
        "content-type": "application/json",
    }
    # Only an allowlist reaches the provider: the client's credentials, its choice of the operator's
    # organisation, cookies, telemetry and what Envoy added are removed; the gateway's key replaces
    # the client's Authorization; content-type, accept and Envoy's own ids stay.
    kept = {"authorization", "x-request-id", "x-forwarded-proto", "traceparent"}
    assert set(changes.remove_headers) == set(CLIENT_EXTRAS) - kept
    assert orjson.loads(changes.body) == {**BODY, "model": "gpt-4o"}


async def test_each_endpoint_of_a_mixed_cluster_gets_its_own_model_and_address() -> None:
    processor = _processor(Credentials({"OPENAI_API_KEY": "sk-1"}), _mixed_endpoints())
    primary = await _attempt(processor, _attributes("mixed", "openai/gpt-4o"))
    assert isinstance(primary, Changes) and primary.body is not None
    assert orjson.loads(primary.body)["model"] == "gpt-4o"
    assert primary.set_headers[":authority"] == "api.example.com"
    assert primary.set_headers[":path"] == "/v1/chat/completions"  # the base's trailing slash is not doubled
    assert primary.set_headers["authorization"] == "Bearer sk-1"

    fallback_processor = _processor(Credentials({"OPENAI_API_KEY": "sk-1"}), _mixed_endpoints())
    fallback = await _attempt(fallback_processor, _attributes("mixed", "hosted_vllm/meta-llama/Llama-3.1-8B"))
    assert isinstance(fallback, Changes) and fallback.body is not None
    assert orjson.loads(fallback.body)["model"] == "meta-llama/Llama-3.1-8B"
    assert fallback.set_headers[":authority"] == "127.0.0.1:8000"
    assert "authorization" not in fallback.set_headers  # this endpoint needs no key


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"xds.cluster_name": "fake_openai_gpt_4o"},
        _attributes("fake_openai_gpt_4o", "openai/gpt-4o-mini"),  # a model of another cluster
        _attributes("elsewhere", "openai/gpt-4o"),
        {"xds.cluster_name": "fake_openai_gpt_4o", "xds.upstream_host_metadata": gateway_metadata("garbage {")},
    ],
    ids=["none", "no-metadata", "wrong-model", "wrong-cluster", "garbage"],
)
async def test_an_endpoint_the_gateway_does_not_know_is_502(processor: UpstreamProcessor, attributes: dict[str, Any]) -> None:
    result = await processor.request_headers({":path": CHAT}, attributes)
    assert _error(result, 502)["code"] == "unknown_endpoint"
    assert await processor.request_body(orjson.dumps(BODY)) == Changes()  # nothing to prepare


@pytest.mark.parametrize(("body", "code"), [(b"{nope", "invalid_json"), (b"[1, 2]", "invalid_request")])
async def test_a_body_that_is_not_a_json_object_is_400(processor: UpstreamProcessor, body: bytes, code: str) -> None:
    result = await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"), body)
    assert _error(result, 400)["code"] == code


async def test_a_missing_key_is_503_naming_the_variable(shipped_endpoints: dict[tuple[str, str], Any]) -> None:
    processor = _processor(Credentials({}), shipped_endpoints)
    error = _error(await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o")), 503)
    assert "FAKE_PROVIDER_API_KEY" in error["message"] and error["code"] == "provider_credentials_missing"


async def test_a_path_the_provider_does_not_serve_is_404(processor: UpstreamProcessor) -> None:
    result = await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"), path="/v1/responses")
    assert _error(result, 404)["code"] == "unsupported_endpoint"


async def test_query_string_does_not_hide_the_endpoint(processor: UpstreamProcessor) -> None:
    changes = await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"), path=CHAT + "?trace=1")
    assert isinstance(changes, Changes) and changes.body is not None
    assert orjson.loads(changes.body)["model"] == "gpt-4o"


def _shipped_paths() -> dict[str, str]:
    return canonical_paths(load_catalog(gateway_config()))


async def test_a_fallback_attempt_undoes_what_the_previous_attempt_set(
    shipped_endpoints: dict[tuple[str, str], Any],
) -> None:
    """Envoy hands every attempt the same header map: attempt 2 sees attempt 1's Anthropic rewrite."""
    processor = UpstreamProcessor(
        Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
        shipped_endpoints,
        {e: ProviderTranslator.for_model(e.model, e.api_base) for e in shipped_endpoints.values()},
        _shipped_paths(),
    )
    after_anthropic = {
        ":path": "/v1/messages", ":method": "POST", "x-api-key": "k", "anthropic-version": "2023-06-01",
        "x-envoy-attempt-count": "2",
    }  # fmt: skip
    started = await processor.request_headers(after_anthropic, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"))
    # The attempt is in the log before its body is sent: a refused connection ends it before that.
    assert started == Changes(metadata={"attempt_2": "openai gpt-4o"})
    changes = await processor.request_body(orjson.dumps(BODY))
    assert isinstance(changes, Changes) and changes.body is not None
    assert changes.set_headers[":path"] == "/v1/chat/completions"
    assert {"x-api-key", "anthropic-version", "x-envoy-attempt-count"} <= set(changes.remove_headers)


async def test_a_clients_anthropic_headers_never_reach_an_anthropic_endpoint(processor: UpstreamProcessor) -> None:
    """A beta the client switches on would bill features the gateway does not price; the gateway's
    own anthropic-version stays."""
    headers = {":path": CHAT, "anthropic-beta": "prompt-caching-2024-07-31", "anthropic-version": "2099-01-01"}
    await processor.request_headers(headers, _attributes("fake_anthropic_claude_haiku", "anthropic/claude-haiku-4-5"))
    changes = await processor.request_body(orjson.dumps(BODY))
    assert isinstance(changes, Changes) and changes.remove_headers == ["anthropic-beta"]
    assert changes.set_headers["anthropic-version"] == "2023-06-01"


async def test_an_endpoints_forward_headers_reach_it(processor: UpstreamProcessor) -> None:
    """The shipped fake endpoints take the fake provider's fault headers (`forward_headers: [x-fake-*]`)."""
    changes = await _attempt(processor, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"), **{"x-fake-status": "503", "x-other": "1"})
    assert isinstance(changes, Changes) and changes.remove_headers == ["x-other"]


async def test_the_response_status_and_latency_go_to_the_attempt_log(processor: UpstreamProcessor) -> None:
    await processor.request_headers({":path": CHAT, "x-envoy-attempt-count": "3"}, _attributes("fake_openai_gpt_4o", "openai/gpt-4o"))
    await processor.request_body(orjson.dumps(BODY))
    recorded = await processor.response_headers({":status": "503"})
    assert recorded.metadata is not None
    provider, model, status, latency = recorded.metadata["attempt_3"].split(" ")  # type: ignore[union-attr]
    assert (provider, model, status) == ("openai", "gpt-4o", "503") and float(latency) >= 0


async def test_an_attempt_beyond_the_cost_capped_priority_is_refused() -> None:
    endpoints = _mixed_endpoints()
    processor = _processor(Credentials({"OPENAI_API_KEY": "sk-1"}), endpoints)
    result = await processor.request_headers(
        {":path": CHAT}, _attributes("mixed", "hosted_vllm/meta-llama/Llama-3.1-8B"), {"max_priority": 0}
    )
    assert _error(result, 400)["code"] == "cost_limit_exceeded"
    allowed = _processor(Credentials({"OPENAI_API_KEY": "sk-1"}), endpoints)
    assert isinstance(await allowed.request_headers({":path": CHAT}, _attributes("mixed", "openai/gpt-4o"), {"max_priority": 0}), Changes)


async def test_a_refused_attempt_answers_in_the_clients_format(processor: UpstreamProcessor) -> None:
    result = await processor.request_headers({":path": CHAT}, {}, {"client_format": "anthropic"})
    assert isinstance(result, Reply) and result.status == 502
    body = orjson.loads(result.body)
    assert body["type"] == "error" and body["error"]["type"] == "api_error"


def test_attempts_envoy_counted_but_no_filter_saw_are_reported_as_unconnected() -> None:
    from extproc.upstream import attempts

    fields = {"attempt_2": "anthropic claude-haiku-4-5 200 5", "tenant": "t"}
    log = attempts.from_metadata(fields, attempts.envoy_count({"x-envoy-attempt-count": "2"}))
    assert attempts.client_headers(log) == {
        "x-gateway-attempt": "2",
        "x-gateway-attempts": "unconnected;status=none, anthropic/claude-haiku-4-5;status=200;ms=5",
    }
    assert attempts.from_metadata({}, 3) == []  # no upstream filter on the route: no log at all
