"""The seed stage through the router processor: options in, the seed's shapes out (docs/seed-api.md)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

JSON_200 = {":status": "200", "content-type": "application/json"}
COMPLETION = {
    "id": "c1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18", "created": 1761998400,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Short."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
              "prompt_tokens_details": {"cached_tokens": 4}},
}  # fmt: skip


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    settings = Settings(auth_mode="none")  # the tenant is `anonymous`
    return build_gateway(gateway_config(), credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=settings, privacy=PrivacyPolicies())


async def _post(gateway: Gateway, path: str, body: Any) -> tuple[RouterProcessor, Reply | Changes]:
    processor = RouterProcessor(gateway)
    headers = {":method": "POST", ":path": path, "content-type": "application/json", "x-request-id": "gw-1"}
    assert await processor.request_headers(headers, False) == Changes()
    return processor, await processor.request_body(orjson.dumps(body))


async def test_a_query_goes_upstream_as_a_chat_body_and_comes_back_in_the_seeds_shape(gateway: Gateway) -> None:
    processor, forwarded = await _post(gateway, "/api/query", {"query": "Be brief.", "model": "openai", "request_id": "c-1"})
    assert isinstance(forwarded, Changes) and forwarded.body is not None
    sent = orjson.loads(forwarded.body)
    assert sent["messages"] == [{"role": "user", "content": "Be brief."}] and "x_gateway" not in sent
    await processor.response_headers(JSON_200, False, {})
    changes = await processor.response_body(orjson.dumps(COMPLETION), end_of_stream=True)
    assert changes.body is not None
    answer = orjson.loads(changes.body)
    assert answer["object"] == "gateway.query" and answer["request_id"] == "c-1" and answer["gateway_request_id"] == "gw-1"
    assert answer["response"] == "Short." and answer["num_tokens"] == 25
    assert answer["token_usage"]["cached_tokens"] == 4 and answer["token_usage"]["uncached_prompt_tokens"] == 16
    assert answer["cost"]["total_usd"] == pytest.approx(float(changes.set_headers["x-gateway-cost-usd"]))


async def test_a_dry_run_is_answered_with_the_seeds_estimate(gateway: Gateway) -> None:
    _, reply = await _post(gateway, "/v1/gateway/query", {"query": "Hi", "model": "openai", "dry_run": True, "max_tokens": 10})
    assert isinstance(reply, Reply) and reply.status == 200
    answer = orjson.loads(reply.body)
    assert answer["status"] == "dry_run" and answer["token_usage"]["completion_tokens"] == 10
    assert answer["cost"]["estimated_max_usd"] > 0 and answer["gateway_request_id"] == "gw-1"


async def test_a_tenant_field_that_is_not_the_keys_is_refused_in_the_seeds_shape(gateway: Gateway) -> None:
    _, reply = await _post(gateway, "/api/query", {"query": "Hi", "tenant": "acme"})
    assert isinstance(reply, Reply) and reply.status == 403
    error = orjson.loads(reply.body)
    assert error["status"] == "error" and error["error"]["code"] == "tenant_mismatch" and error["error"]["field"] == "tenant"
    _, same = await _post(gateway, "/api/query", {"query": "Hi", "model": "openai", "tenant": "anonymous"})
    assert isinstance(same, Changes)


async def test_a_chat_request_is_untouched_by_the_seed_stage(gateway: Gateway) -> None:
    processor, forwarded = await _post(gateway, "/v1/chat/completions", {"model": "fast", "messages": [{"role": "user", "content": "q"}]})
    assert isinstance(forwarded, Changes)
    await processor.response_headers(JSON_200, False, {})
    changes = await processor.response_body(orjson.dumps(COMPLETION), end_of_stream=True)
    assert changes.body is None  # the provider's own bytes
