"""The playground's paths through the router processor: static files without a key, the recent-requests
list filled at each request's end, and the headers the page shows."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.telemetry import tracing
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config
from tests.support.otlp_collector import otlp_collector

CHAT = "/v1/chat/completions"
JSON_200 = {":status": "200", "content-type": "application/json"}
COMPLETION = {
    "id": "c1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
}  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    # Keys required (the file store is empty): the static files must still be served.
    keys = tmp_path_factory.mktemp("keys") / "keys.json"
    keys.write_text("{}")
    settings = Settings(auth_mode="api_keys", keys_file=str(keys), store="memory")
    return build_gateway(gateway_config(), credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=settings, privacy=PrivacyPolicies())


@pytest.fixture(scope="module")
def open_gateway() -> Gateway:
    settings = Settings(auth_mode="none")
    return build_gateway(gateway_config(), credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=settings, privacy=PrivacyPolicies())


def _headers(method: str, path: str, **extra: str) -> dict[str, str]:
    return {":method": method, ":path": path, "content-type": "application/json", **extra}


async def test_the_page_is_served_without_a_key_with_its_security_headers(gateway: Gateway) -> None:
    reply = await RouterProcessor(gateway).request_headers(_headers("GET", "/playground/"), True)
    assert isinstance(reply, Reply) and reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert b"<html" in reply.body.lower()


@pytest.mark.parametrize("path", ["/playground/../../etc/passwd", "/playground/%2e%2e/app.py", "/playground/..%2f..%2fapp.py"])
async def test_paths_out_of_the_folder_are_404(gateway: Gateway, path: str) -> None:
    reply = await RouterProcessor(gateway).request_headers(_headers("GET", path), True)
    assert isinstance(reply, Reply) and reply.status == 404
    assert reply.headers["x-content-type-options"] == "nosniff"


async def test_the_apis_the_page_calls_still_need_a_key(gateway: Gateway) -> None:
    reply = await RouterProcessor(gateway).request_headers(_headers("GET", "/v1/gateway/requests"), True)
    assert isinstance(reply, Reply) and reply.status == 401


async def _chat(gateway: Gateway, request_id: str, content: str = "hi") -> Changes:
    processor = RouterProcessor(gateway)
    body = {"model": "fast", "messages": [{"role": "user", "content": content}]}
    assert await processor.request_headers(_headers("POST", CHAT, **{"x-request-id": request_id}), False) == Changes()
    forwarded = await processor.request_body(orjson.dumps(body))
    assert isinstance(forwarded, Changes)
    await processor.response_headers(JSON_200, False, {})
    return await processor.response_body(orjson.dumps(COMPLETION), end_of_stream=True)


async def _recent(gateway: Gateway) -> list[dict[str, Any]]:
    reply = await RouterProcessor(gateway).request_headers(_headers("GET", "/v1/gateway/requests"), True)
    assert isinstance(reply, Reply) and reply.status == 200, reply
    listing = orjson.loads(reply.body)
    assert listing["object"] == "list"
    return listing["data"]


async def test_each_finished_request_is_listed_with_its_figures_and_no_text(open_gateway: Gateway) -> None:
    await _chat(open_gateway, "req-recent-1", content="my secret plan")
    refused = RouterProcessor(open_gateway)
    await refused.request_headers(_headers("POST", CHAT, **{"x-request-id": "req-recent-2"}), False)
    assert isinstance(await refused.request_body(orjson.dumps({"model": "no-such-model", "messages": []})), Reply)
    listed = await _recent(open_gateway)
    by_id = {entry["request_id"]: entry for entry in listed}
    assert [e["request_id"] for e in listed][:2] == ["req-recent-2", "req-recent-1"]
    answered = by_id["req-recent-1"]
    assert answered["status"] == 200 and answered["model"] == "fast"
    assert (answered["prompt_tokens"], answered["completion_tokens"]) == (20, 5)
    assert answered["served_model"] == "gpt-4o-mini-2024-07-18" and answered["cost_usd"] > 0
    assert by_id["req-recent-2"]["status"] == 400
    assert b"secret" not in orjson.dumps(listed)
    # The list's own call is not a model call: it is not listed.
    assert all(entry["request_id"] for entry in await _recent(open_gateway))
    assert len(await _recent(open_gateway)) == len(listed)


async def test_with_tracing_on_every_answer_names_its_trace(open_gateway: Gateway) -> None:
    with otlp_collector() as running:
        tracing.configure(tracing.TracingSettings(endpoint=f"http://{running.endpoint}"))
        try:
            trace_id = "0af7651916cd43dd8448eb211c80319c"
            trace = tracing.start_stream([("traceparent", f"00-{trace_id}-b7ad6b7169203331-01")])
            processor = RouterProcessor(open_gateway, trace)
            reply = await processor.request_headers(_headers("GET", "/v1/models", **{"x-request-id": "r1"}), True)
            assert isinstance(reply, Reply) and reply.headers["x-gateway-trace-id"] == trace_id
            untraced = await RouterProcessor(open_gateway).request_headers(_headers("GET", "/v1/models"), True)
            assert isinstance(untraced, Reply) and "x-gateway-trace-id" not in untraced.headers
        finally:
            tracing.shutdown()


async def test_a_request_the_gateway_failed_is_listed_as_a_500(open_gateway: Gateway) -> None:
    processor = RouterProcessor(open_gateway)
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    await processor.request_headers(_headers("POST", CHAT, **{"x-request-id": "req-failed"}), False)
    assert isinstance(await processor.request_body(orjson.dumps(body)), Changes)
    assert processor.failed().status == 500  # the service raised on a later message
    processor.close()
    await asyncio.gather(*open_gateway.unfinished)
    listed = {entry["request_id"]: entry for entry in await _recent(open_gateway)}
    assert listed["req-failed"]["status"] == 500
