"""The router-level processor, phase by phase, with plain dicts (no gRPC, no Envoy)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Rates, Settings, TenantPolicy
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config
from tests.support.lanes import LANE_KEY_ENV, htpasswd_line, with_example_lane

# These tests are about requests, not keys: the explicit no-auth mode, no limits.
NO_AUTH = Settings(auth_mode="none")
# These tests are about other stages: no privacy policy rewrites their prompts or answers.
NO_PRIVACY = PrivacyPolicies()

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    config = gateway_config()
    return build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=NO_AUTH, privacy=NO_PRIVACY)


@pytest.fixture
def processor(gateway: Gateway) -> RouterProcessor:
    return RouterProcessor(gateway)


@pytest.fixture(scope="module")
def litellm(gateway: Gateway):  # noqa: ANN201 - imported by the gateway's Pricing already
    import litellm

    return litellm


def _headers(method: str = "POST", path: str = CHAT, **extra: str) -> dict[str, str]:
    return {":method": method, ":path": path, "content-type": "application/json", **extra}


async def _send(processor: RouterProcessor, body: Any) -> Reply | Changes:
    first = await processor.request_headers(_headers(), end_of_stream=False)
    assert first == Changes()
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return await processor.request_body(raw)


def _error(reply: Reply | Changes, status: int) -> dict[str, Any]:
    assert isinstance(reply, Reply), reply
    assert reply.status == status and reply.headers["content-type"] == "application/json"
    return orjson.loads(reply.body)["error"]


def _sent_body(changes: Reply | Changes) -> dict[str, Any]:
    assert isinstance(changes, Changes) and changes.body is not None
    assert changes.set_headers["content-length"] == str(len(changes.body))
    return orjson.loads(changes.body)


def _reference_cost(litellm, model: str, prompt: int, completion: int, cached: int = 0) -> float:  # noqa: ANN001
    a, b = litellm.cost_per_token(
        model=model, prompt_tokens=prompt, completion_tokens=completion, cache_read_input_tokens=cached
    )
    return a + b


# --- request headers ------------------------------------------------------------


async def test_models_list_is_answered_locally(processor: RouterProcessor) -> None:
    reply = await processor.request_headers(_headers("GET", "/v1/models?x=1", **{"x-request-id": "r1"}), True)
    assert isinstance(reply, Reply) and reply.status == 200
    assert reply.headers == {"content-type": "application/json", "x-gateway-request-id": "r1"}
    listing = orjson.loads(reply.body)
    assert listing["object"] == "list"
    assert {m["id"] for m in listing["data"]} == {
        *("gpt-4o", "gpt-4o-mini", "fast", "default", "smart"),
        *("claude-haiku-4-5", "claude", "gemini-2.5-flash", "gemini", "text-embedding-3-small", "embed"),
        *("llama-3.1-8b", "local", "reliable", "qwen2.5-coder", "coder"),
    }


async def test_unknown_path_is_404(processor: RouterProcessor) -> None:
    error = _error(await processor.request_headers(_headers("POST", "/v1/completions?a=b"), False), 404)
    assert error["code"] == "unknown_endpoint" and "POST /v1/completions." in error["message"]


@pytest.mark.parametrize(("method", "path"), [("GET", CHAT), ("DELETE", "/v1/models"), ("POST", "/v1/models")])
async def test_known_path_with_wrong_method_is_405(processor: RouterProcessor, method: str, path: str) -> None:
    error = _error(await processor.request_headers(_headers(method, path), False), 405)
    assert error["code"] == "method_not_allowed" and method in error["message"]


async def test_replies_carry_the_request_id(processor: RouterProcessor) -> None:
    reply = await processor.request_headers(_headers("GET", "/nope", **{"x-request-id": "abc"}), True)
    assert isinstance(reply, Reply) and reply.headers["x-gateway-request-id"] == "abc"


async def test_missing_body_is_400(processor: RouterProcessor) -> None:
    error = _error(await processor.request_headers(_headers(), end_of_stream=True), 400)
    assert "body is missing" in error["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml"])
async def test_wrong_content_type_is_415(processor: RouterProcessor, content_type: str) -> None:
    reply = await processor.request_headers(_headers(**{"content-type": content_type}), False)
    error = _error(reply, 415)
    assert error["code"] == "unsupported_media_type" and content_type.split(";")[0] in error["message"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", ""])
async def test_json_content_types_are_accepted(processor: RouterProcessor, content_type: str) -> None:
    assert await processor.request_headers(_headers(**{"content-type": content_type}), False) == Changes()


# --- request body ---------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"model": "fast",'])
async def test_invalid_json_is_400(processor: RouterProcessor, body: bytes) -> None:
    assert _error(await _send(processor, body), 400)["code"] == "invalid_json"


async def test_schema_errors_are_400_with_the_param(processor: RouterProcessor) -> None:
    error = _error(await _send(processor, {"model": "fast", "messages": []}), 400)
    assert error["param"] == "messages" and error["type"] == "invalid_request_error"


async def test_unknown_model_is_404_listing_the_models(processor: RouterProcessor) -> None:
    error = _error(await _send(processor, {"model": "gpt-5", "messages": USER}), 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'gpt-5'" in error["message"]
    for name in ("gpt-4o", "gpt-4o-mini", "fast", "default", "smart"):
        assert name in error["message"]


async def test_alias_on_a_router_prepared_cluster_is_fully_prepared(processor: RouterProcessor) -> None:
    changes = await _send(processor, {"model": "fast", "messages": USER, "temperature": 0})
    assert isinstance(changes, Changes) and changes.clear_route_cache
    assert changes.set_headers["x-gateway-model"] == "gpt-4o-mini"
    assert changes.set_headers["authorization"] == "Bearer k"
    assert changes.set_headers[":path"] == "/v1/chat/completions"
    assert changes.set_headers[":authority"] == "127.0.0.1:9000"
    assert _sent_body(changes) == {"model": "gpt-4o-mini", "messages": USER, "temperature": 0}
    assert changes.metadata is not None
    assert (changes.metadata["requested_model"], changes.metadata["route"]) == ("fast", "gpt-4o-mini")


async def test_alias_on_a_per_attempt_cluster_only_picks_the_route(processor: RouterProcessor) -> None:
    changes = await _send(processor, {"model": "smart", "messages": USER})
    assert isinstance(changes, Changes) and changes.clear_route_cache
    assert changes.set_headers == {"x-gateway-model": "gpt-4o"}
    assert changes.body is None  # the upstream filter rewrites the model for the endpoint it picks


async def test_stream_without_usage_gets_it_injected_per_attempt_cluster(processor: RouterProcessor) -> None:
    changes = await _send(processor, {"model": "smart", "messages": USER, "stream": True})
    sent = _sent_body(changes)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "smart"
    assert "authorization" not in changes.set_headers  # type: ignore[union-attr]


async def test_stream_without_usage_gets_it_injected_router_prepared(processor: RouterProcessor) -> None:
    sent = _sent_body(await _send(processor, {"model": "fast", "messages": USER, "stream": True}))
    assert sent["stream_options"] == {"include_usage": True} and sent["model"] == "gpt-4o-mini"


async def test_stream_that_asked_for_usage_is_not_rewritten(processor: RouterProcessor) -> None:
    body = {"model": "smart", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    changes = await _send(processor, body)
    assert isinstance(changes, Changes) and changes.body is None


async def test_missing_provider_key_is_503_without_a_key(gateway: Gateway) -> None:
    without_key = dataclasses.replace(gateway, credentials=Credentials({}))
    error = _error(await _send(RouterProcessor(without_key), {"model": "fast", "messages": USER}), 503)
    assert "FAKE_PROVIDER_API_KEY" in error["message"]


# --- streamed responses -----------------------------------------------------------

SSE_HEADERS = {":status": "200", "content-type": "text/event-stream; charset=utf-8", "content-length": "999"}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


CONTENT = _event({"id": "c1", "model": "gpt-4o-mini-2024-07-18", "choices": [{"delta": {"content": "Hi"}}], "usage": None})
FINISH = _event({"id": "c1", "choices": [{"delta": {}, "finish_reason": "stop"}], "usage": None})
USAGE = _event(
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1024}},
    }
)
DONE = b"data: [DONE]\n\n"
STREAM = CONTENT + FINISH + USAGE + DONE


async def _stream(processor: RouterProcessor, stream_options: dict[str, Any] | None, chunks: list[bytes]) -> tuple[bytes, Changes]:
    body: dict[str, Any] = {"model": "fast", "messages": USER, "stream": True}
    if stream_options is not None:
        body["stream_options"] = stream_options
    assert isinstance(await _send(processor, body), Changes)
    headers = await processor.response_headers(SSE_HEADERS, False, {})
    assert isinstance(headers, Changes) and headers.stream_body
    out = b""
    last = Changes()
    for index, chunk in enumerate(chunks):
        last = await processor.response_body(chunk, end_of_stream=index == len(chunks) - 1)
        out += chunk if last.body is None else last.body  # Envoy forwards the chunk unless replaced
    return out, last


async def test_event_stream_headers_switch_to_streaming(processor: RouterProcessor) -> None:
    await _send(processor, {"model": "fast", "messages": USER, "stream": True})
    changes = await processor.response_headers(SSE_HEADERS, False, {})
    assert isinstance(changes, Changes) and changes.stream_body
    assert changes.remove_headers == ["content-length"]
    assert changes.set_headers["x-gateway-served-model"] == "gpt-4o-mini"
    assert changes.set_headers["x-gateway-provider"] == "openai"


@pytest.mark.parametrize(
    "chunks",
    [
        [STREAM],
        [CONTENT, FINISH, USAGE, DONE],
        [STREAM[:7], STREAM[7:70], STREAM[70:150], STREAM[150:]],
        [STREAM[i : i + 9] for i in range(0, len(STREAM), 9)],
        [CONTENT + FINISH + USAGE[:20], USAGE[20:] + DONE[:3], DONE[3:]],
    ],
    ids=["one", "per-event", "uneven", "9-bytes", "usage-split"],
)
async def test_injected_usage_chunk_is_hidden_from_the_client(
    processor: RouterProcessor, litellm, chunks: list[bytes]  # noqa: ANN001
) -> None:
    out, final = await _stream(processor, None, chunks)
    assert out == CONTENT + FINISH + DONE
    usage = processor.ctx.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (1200, 300, 1024)
    assert final.metadata is not None
    assert (final.metadata["prompt_tokens"], final.metadata["completion_tokens"]) == (1200, 300)
    expected = _reference_cost(litellm, "openai/gpt-4o-mini", 1200, 300, 1024)
    assert final.metadata["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert final.metadata["served_model"] == "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize(
    "chunks", [[STREAM], [STREAM[i : i + 5] for i in range(0, len(STREAM), 5)]], ids=["one", "5-bytes"]
)
async def test_usage_chunk_the_client_asked_for_is_kept_with_the_gateway_figures(
    processor: RouterProcessor, litellm, chunks: list[bytes]  # noqa: ANN001
) -> None:
    out, final = await _stream(processor, {"include_usage": True}, chunks)
    assert out.startswith(CONTENT + FINISH) and out.endswith(DONE)
    usage_chunk = orjson.loads(out[len(CONTENT + FINISH) : -len(DONE)].removeprefix(b"data: "))
    assert usage_chunk["usage"] == orjson.loads(USAGE.removeprefix(b"data: "))["usage"]
    figures = usage_chunk["x_gateway"]
    assert figures["cost_usd"] == pytest.approx(_reference_cost(litellm, "openai/gpt-4o-mini", 1200, 300, 1024), rel=1e-9)
    assert (figures["provider"], figures["served_model"], figures["usage_estimated"]) == (
        "openai",
        "gpt-4o-mini-2024-07-18",
        False,
    )
    assert final.metadata is not None and final.metadata["prompt_tokens"] == 1200


async def test_stream_without_a_usage_chunk_gets_estimated_usage(processor: RouterProcessor, litellm) -> None:  # noqa: ANN001
    out, final = await _stream(processor, None, [CONTENT + FINISH, DONE])
    assert out == CONTENT + FINISH + DONE
    assert final.metadata is not None and "usage_estimated" in final.metadata["decisions"]
    counted = litellm.token_counter(model="openai/gpt-4o-mini", text="Hi", count_response_tokens=True)
    assert final.metadata["completion_tokens"] == counted and final.metadata["prompt_tokens"] > 0
    assert processor.ctx.usage_estimated


async def test_a_truncated_last_event_is_still_delivered(processor: RouterProcessor) -> None:
    out, _ = await _stream(processor, None, [CONTENT, b"data: {\"partial"])
    assert out == CONTENT + b"data: {\"partial"


# --- the client goes away ---------------------------------------------------------


async def _stream_ended_early(processor: RouterProcessor) -> None:
    """Envoy ends the ext_proc stream before the answer's end: what server.py does then."""
    processor.close()
    await asyncio.gather(*processor._gateway.unfinished)


async def test_a_stream_the_client_left_is_charged_for_what_it_used(processor: RouterProcessor, litellm) -> None:  # noqa: ANN001
    assert isinstance(await _send(processor, {"model": "fast", "messages": USER, "stream": True}), Changes)
    await processor.response_headers(SSE_HEADERS, False, {})
    await processor.response_body(CONTENT, end_of_stream=False)
    await _stream_ended_early(processor)
    ctx = processor.ctx
    assert ctx.error == "client_disconnected" and "client_disconnected" in ctx.decisions
    assert ctx.usage is not None and ctx.usage_estimated and ctx.usage.prompt_tokens > 0
    assert ctx.usage.completion_tokens == litellm.token_counter(model="openai/gpt-4o-mini", text="Hi", count_response_tokens=True)
    assert ctx.cost_usd == pytest.approx(_reference_cost(litellm, "openai/gpt-4o-mini", ctx.usage.prompt_tokens, ctx.usage.completion_tokens))


async def test_a_request_the_client_left_before_any_answer_costs_nothing(processor: RouterProcessor) -> None:
    assert isinstance(await _send(processor, {"model": "fast", "messages": USER}), Changes)
    await _stream_ended_early(processor)
    ctx = processor.ctx
    assert (ctx.status, ctx.usage, ctx.cost_usd) == (499, None, None)
    assert ctx.error == "client_disconnected"


async def test_answered_and_refused_requests_are_not_finished_again(gateway: Gateway) -> None:
    answered = RouterProcessor(gateway)
    await _stream(answered, None, [STREAM])
    refused = RouterProcessor(gateway)
    reply = await _send(refused, {"model": "no-such-model", "messages": USER})
    assert isinstance(reply, Reply)
    refused.replied(reply)
    for done in (answered, refused):
        decisions = list(done.ctx.decisions)
        done.close()
        assert not gateway.unfinished and done.ctx.decisions == decisions


# --- buffered responses -----------------------------------------------------------

JSON_200 = {":status": "200", "content-type": "application/json"}
COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 2000, "completion_tokens": 500, "total_tokens": 2500},
}


# The router stamps this on every answer a provider sent, never on Envoy's own replies.
FROM_PROVIDER = {"x-envoy-upstream-service-time": "3"}


async def _buffered(processor: RouterProcessor, headers: dict[str, str], body: bytes, model: str = "fast") -> Changes:
    assert isinstance(await _send(processor, {"model": model, "messages": USER}), Changes)
    assert await processor.response_headers(headers, False, {}) == Changes()  # headers wait for the body
    return await processor.response_body(body, end_of_stream=True)


async def test_buffered_answer_gets_usage_and_cost_headers(processor: RouterProcessor, litellm) -> None:  # noqa: ANN001
    changes = await _buffered(processor, JSON_200, orjson.dumps(COMPLETION))
    assert changes.body is None  # the answer itself is untouched
    headers = changes.set_headers
    assert (headers["x-gateway-prompt-tokens"], headers["x-gateway-completion-tokens"]) == ("2000", "500")
    expected = _reference_cost(litellm, "openai/gpt-4o-mini", 2000, 500)
    assert float(headers["x-gateway-cost-usd"]) == pytest.approx(expected, rel=1e-6)
    assert headers["x-gateway-served-model"] == "gpt-4o-mini" and headers["x-gateway-provider"] == "openai"
    assert changes.metadata is not None
    assert changes.metadata["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert changes.metadata["served_model"] == "gpt-4o-mini-2024-07-18"


async def test_buffered_answer_on_a_per_attempt_cluster_is_priced_for_its_endpoint(
    processor: RouterProcessor, litellm  # noqa: ANN001
) -> None:
    # The serving endpoint's metadata, as the codec hands it over (its `llm_gateway` namespace).
    attributes = {"xds.upstream_host_metadata": {"model": "openai/gpt-4o"}}
    assert isinstance(await _send(processor, {"model": "smart", "messages": USER}), Changes)
    await processor.response_headers(JSON_200, False, attributes)
    changes = await processor.response_body(orjson.dumps({**COMPLETION, "model": "gpt-4o"}), True)
    expected = _reference_cost(litellm, "openai/gpt-4o", 2000, 500)
    assert float(changes.set_headers["x-gateway-cost-usd"]) == pytest.approx(expected, rel=1e-6)
    assert changes.set_headers["x-gateway-served-model"] == "gpt-4o"


# The attempt log the upstream filter kept: two attempts reset (no status), the third answered.
TWO_RESET = {"attempt_1": "openai gpt-4o", "attempt_2": "openai gpt-4o", "attempt_3": "openai gpt-4o 200 4"}
ALL_RESET = {"attempt_1": "openai gpt-4o", "attempt_2": "openai gpt-4o", "attempt_3": "openai gpt-4o"}


def _prompt_cost(gateway: Gateway, litellm) -> float:  # noqa: ANN001
    prompt = gateway.estimator.prompt_tokens("openai/gpt-4o", {"model": "gpt-4o", "messages": USER}, "chat")
    return _reference_cost(litellm, "openai/gpt-4o", prompt, 0)


async def test_attempts_reset_before_the_answer_are_charged_their_prompts(
    processor: RouterProcessor, gateway: Gateway, litellm  # noqa: ANN001
) -> None:
    assert isinstance(await _send(processor, {"model": "smart", "messages": USER}), Changes)
    await processor.response_headers({**JSON_200, "x-envoy-attempt-count": "3"}, False, {}, TWO_RESET)
    changes = await processor.response_body(orjson.dumps({**COMPLETION, "model": "gpt-4o"}), True)
    answer = _reference_cost(litellm, "openai/gpt-4o", 2000, 500)
    expected = answer + 2 * _prompt_cost(gateway, litellm)
    assert float(changes.set_headers["x-gateway-cost-usd"]) == pytest.approx(expected, rel=1e-6)
    assert changes.metadata is not None and "unanswered_attempts:2" in changes.metadata["decisions"]
    assert changes.set_headers["x-gateway-prompt-tokens"] == "2000"  # the answer's own usage, as reported


async def test_when_every_attempt_was_reset_the_prompts_are_still_charged(
    processor: RouterProcessor, gateway: Gateway, litellm  # noqa: ANN001
) -> None:
    """Envoy's own 503 after three resets: the provider saw three prompts."""
    assert isinstance(await _send(processor, {"model": "smart", "messages": USER}), Changes)
    await processor.response_headers({":status": "503", "content-type": "application/json"}, False, {}, ALL_RESET)
    changes = await processor.response_body(b'{"error":{}}', True)
    expected = 3 * _prompt_cost(gateway, litellm)
    assert float(changes.set_headers["x-gateway-cost-usd"]) == pytest.approx(expected, rel=1e-6)
    assert processor.ctx.cost_usd == pytest.approx(expected, rel=1e-9)  # what the limits stage charges


async def test_attempts_the_provider_refused_are_not_charged(processor: RouterProcessor) -> None:
    refused = {"attempt_1": "openai gpt-4o 503 3", "attempt_2": "openai gpt-4o 429 2", "attempt_3": "openai gpt-4o 503 1"}
    assert isinstance(await _send(processor, {"model": "smart", "messages": USER}), Changes)
    await processor.response_headers({":status": "503", "content-type": "application/json", **FROM_PROVIDER}, False, {}, refused)
    changes = await processor.response_body(b'{"error":{"message":"busy"}}', True)
    assert "x-gateway-cost-usd" not in changes.set_headers and processor.ctx.cost_usd is None


async def test_upstream_openai_error_passes_through_unchanged(processor: RouterProcessor) -> None:
    error = orjson.dumps({"error": {"message": "Rate limit", "type": "requests", "param": None, "code": "rate_limit_exceeded"}})
    changes = await _buffered(processor, {":status": "429", "content-type": "application/json", **FROM_PROVIDER}, error)
    assert changes.body is None and "content-length" not in changes.set_headers
    assert changes.metadata is not None and "prompt_tokens" not in changes.metadata


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"upstream connect error or disconnect/reset before headers", "upstream connect error"),
        (b'{"error": "model overloaded"}', "model overloaded"),
        (b"", "HTTP status 503"),
    ],
)
async def test_upstream_error_that_is_not_openai_json_is_wrapped(
    processor: RouterProcessor, body: bytes, message: str
) -> None:
    changes = await _buffered(processor, {":status": "503", "content-type": "text/plain", **FROM_PROVIDER}, body)
    assert changes.body is not None
    assert changes.set_headers["content-type"] == "application/json"
    assert changes.set_headers["content-length"] == str(len(changes.body))
    error = orjson.loads(changes.body)["error"]
    assert message in error["message"] and error["code"] == "upstream_error"
    assert error["type"] == "api_error"


async def test_envoys_own_error_reply_is_left_as_its_local_reply_config_shaped_it(processor: RouterProcessor) -> None:
    # A reset or timeout answered by Envoy carries no x-envoy-upstream-service-time; its body is
    # already the client's error JSON with the gateway's code, which rewrapping would lose.
    envoy_reply = orjson.dumps({"error": {"message": "The model provider is unavailable (reset).",
                                          "type": "api_error", "param": None, "code": "upstream_unavailable"}})
    changes = await _buffered(processor, {":status": "503", "content-type": "application/json"}, envoy_reply)
    assert changes.body is None and ":status" not in changes.set_headers
    assert changes.set_headers["x-gateway-provider"] == "openai"


async def test_malformed_success_body_becomes_502(processor: RouterProcessor) -> None:
    changes = await _buffered(processor, JSON_200, b'{"id": "c1", "choices": [')
    assert changes.body is not None
    assert changes.set_headers[":status"] == "502"
    assert changes.set_headers["content-type"] == "application/json"
    assert changes.set_headers["content-length"] == str(len(changes.body))
    assert orjson.loads(changes.body)["error"]["code"] == "bad_upstream_response"
    assert processor.ctx.status == 502


async def test_response_without_body_finishes_at_the_headers(processor: RouterProcessor) -> None:
    assert isinstance(await _send(processor, {"model": "fast", "messages": USER}), Changes)
    changes = await processor.response_headers({":status": "204"}, True, {})
    assert isinstance(changes, Changes) and changes.metadata is not None
    assert changes.set_headers["x-gateway-served-model"] == "gpt-4o-mini"


# --- operator endpoints -------------------------------------------------------------


@pytest.mark.parametrize(("source", "allowed"), [("127.0.0.1:40000", True), ("[::1]:40000", True), ("192.0.2.7:40000", False), ("", False)])
async def test_metrics_go_to_keyless_local_scrapers_only_where_the_settings_allow(gateway: Gateway, source: str, allowed: bool) -> None:
    # Without keys no one is an admin: only the explicit setting opens /metrics, to the gateway's host.
    closed = await RouterProcessor(gateway).request_headers(_headers("GET", "/metrics"), True, {"source.address": source})
    assert _error(closed, 403)["code"] == "admin_key_required"
    open_locally = build_gateway(
        gateway_config(),
        settings=Settings(auth_mode="none", loopback_metrics_without_key=True),
        privacy=NO_PRIVACY,
    )
    reply = await RouterProcessor(open_locally).request_headers(_headers("GET", "/metrics"), True, {"source.address": source})
    assert isinstance(reply, Reply)
    if allowed:
        assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
        assert b"llm_gateway_requests_total" in reply.body
    else:
        assert _error(reply, 403)["code"] == "admin_key_required"


# --- bad input on every forwarded path ------------------------------------------------

ANTHROPIC_PATH = "/v1/messages"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (path, body)
        for path in ("/v1/messages", "/v1/embeddings", "/v1/gateway/cost-estimate")
        for body in (b"{not json", b"[]", b'"text"', b"null", b'{"model": 7}', b'{"model": "fast", "x_gateway": 1}')
    ],
)
async def test_malformed_bodies_get_a_400_in_the_clients_format(processor: RouterProcessor, path: str, body: bytes) -> None:
    first = await processor.request_headers(_headers(path=path), end_of_stream=False)
    assert first == Changes()
    reply = await processor.request_body(body)
    assert isinstance(reply, Reply) and reply.status == 400, reply
    payload = orjson.loads(reply.body)
    if path == ANTHROPIC_PATH:
        assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
        assert payload["error"]["message"]
    else:
        assert payload["error"]["type"] == "invalid_request_error" and payload["error"]["message"]


# --- the fail-open lane (/local/v1/..., as docs/configuration.md adds one) ---------------------


@pytest.fixture(scope="module")
def lane_gateway(tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    users = tmp_path_factory.mktemp("lane") / "lane.htpasswd"
    users.write_text(htpasswd_line("ops", "secret"))
    config = with_example_lane(gateway_config(), users)
    keys = Credentials({"FAKE_PROVIDER_API_KEY": "k", LANE_KEY_ENV: "lane-k"})
    return build_gateway(config, credentials=keys, settings=NO_AUTH, privacy=NO_PRIVACY)


@pytest.fixture
def lane_processor(lane_gateway: Gateway) -> RouterProcessor:
    return RouterProcessor(lane_gateway)


async def _send_on(processor: RouterProcessor, path: str, body: Any) -> Reply | Changes:
    first = await processor.request_headers(_headers(path=path), end_of_stream=False)
    if isinstance(first, Reply):
        return first
    return await processor.request_body(orjson.dumps(body))


async def test_a_lane_request_is_served_like_v1_and_sent_to_the_lanes_cluster(lane_processor: RouterProcessor) -> None:
    changes = await _send_on(lane_processor, "/local/v1/chat/completions", {"model": "local", "messages": USER})
    assert isinstance(changes, Changes)
    assert changes.set_headers["x-gateway-model"] == "llama-3.1-8b"
    assert changes.set_headers[":path"] == "/v1/chat/completions"  # the provider never sees the lane
    assert _sent_body(changes)["model"] == "llama-3.1-8b"


async def test_a_lane_refuses_models_of_other_clusters(lane_processor: RouterProcessor) -> None:
    error = _error(await _send_on(lane_processor, "/local/v1/chat/completions", {"model": "fast", "messages": USER}), 400)
    assert error["code"] == "model_not_in_lane" and "llama-3.1-8b" in error["message"]


async def test_a_lane_path_with_the_wrong_method_is_405(lane_processor: RouterProcessor) -> None:
    reply = await lane_processor.request_headers(_headers("GET", "/local/v1/chat/completions"), end_of_stream=True)
    assert _error(reply, 405)["code"] == "method_not_allowed"


async def test_a_wrong_method_on_the_anthropic_path_is_answered_in_anthropics_format(processor: RouterProcessor) -> None:
    for method, path in (("GET", "/v1/messages"), ("POST", "/v1/messages/count_tokens")):
        reply = await RouterProcessor(processor._gateway).request_headers(_headers(method, path), end_of_stream=True)
        assert isinstance(reply, Reply) and reply.status in (404, 405)
        body = orjson.loads(reply.body)
        assert body["type"] == "error" and body["error"]["type"], body


# --- whatever ends a request, the stages that saw it see its end ---------------------

# Room for one request's reservation (its prompt plus max_tokens), not two.
TOKENS_PER_MINUTE = 1500
LIMITED_BODY = {"model": "fast", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}


async def _send_limited(processor: RouterProcessor) -> Reply | Changes:
    headers = {":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json"}
    assert await processor.request_headers(headers, False) == Changes()
    return await processor.request_body(orjson.dumps(LIMITED_BODY))


async def test_a_request_refused_after_the_limits_stage_gives_its_reservation_back() -> None:
    settings = Settings(auth_mode="none", default=TenantPolicy(per_tenant=Rates(tokens_per_minute=TOKENS_PER_MINUTE)))
    # No provider key: preparing the request for the provider fails after every stage admitted it.
    keyless = build_gateway(
        gateway_config(), credentials=Credentials({}), settings=settings, privacy=PrivacyPolicies()
    )
    refused = RouterProcessor(keyless)
    reply = await _send_limited(refused)
    assert isinstance(reply, Reply) and reply.status == 503
    refused.close()

    keyed = dataclasses.replace(keyless, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}))
    admitted = await _send_limited(RouterProcessor(keyed))  # the same limits store: the refused one's tokens came back
    assert isinstance(admitted, Changes), admitted
