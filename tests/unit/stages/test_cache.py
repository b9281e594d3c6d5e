"""The exact cache through the router processor: miss, store, replay in the client's format."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.cache.policy import CachePolicies, CachePolicy
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import Privacy, PrivacyPolicies, RequestPolicy, ResponsePolicy
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

CONFIG = gateway_config("gpt-4o-mini")
JSON_200 = {":status": "200", "content-type": "application/json", "x-envoy-upstream-service-time": "3"}
SSE_200 = {":status": "200", "content-type": "text/event-stream", "x-envoy-upstream-service-time": "3"}
USER = [{"role": "user", "content": "Say hello"}]


def gateway(privacy: PrivacyPolicies | None = None, **policy: Any) -> Gateway:
    return build_gateway(
        CONFIG,
        credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
        settings=Settings(auth_mode="none"),
        privacy=privacy or PrivacyPolicies(),
        cache=CachePolicies(default=CachePolicy(mode="exact", **policy)),
    )


@pytest.fixture
def gw() -> Gateway:
    return gateway()


async def send(gw: Gateway, body: dict[str, Any], path: str = "/v1/chat/completions", tenant: str = "anonymous",
               **headers: str) -> tuple[RouterProcessor, Reply | Changes]:  # fmt: skip
    proc = RouterProcessor(gw)
    assert await proc.request_headers({":method": "POST", ":path": path, "content-type": "application/json", **headers}, False) == Changes()
    proc.ctx.tenant = tenant
    return proc, await proc.request_body(orjson.dumps(body))


def completion(text: str) -> bytes:
    return orjson.dumps({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    })  # fmt: skip


async def miss_then_store(gw: Gateway, body: dict[str, Any], answer: bytes = completion("Hello!"), status: str = "200", **kw: Any) -> Changes:
    proc, first = await send(gw, body, **kw)
    assert isinstance(first, Changes) and proc.ctx.cache_outcome == "miss"
    headers = {**JSON_200, ":status": status}
    await proc.response_headers(headers, False, {})
    return await proc.response_body(answer, True)


def events(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: {")]


async def test_a_repeated_request_is_answered_from_the_cache(gw: Gateway) -> None:
    changes = await miss_then_store(gw, {"model": "fast", "messages": USER})
    assert changes.set_headers["x-gateway-cache"] == "miss"
    proc, reply = await send(gw, {"model": "gpt-4o-mini", "messages": USER})  # an alias of the same route
    assert isinstance(reply, Reply) and reply.status == 200
    assert orjson.loads(reply.body)["choices"][0]["message"]["content"] == "Hello!"
    assert reply.headers["x-gateway-cache"] == "hit" and reply.headers["x-gateway-cache-age"] == "0"
    assert reply.headers["x-gateway-served-model"] == "gpt-4o-mini" and reply.headers["x-gateway-cost-usd"] == "0"
    meta = proc.reply_metadata(reply)
    assert meta["cache"] == "hit" and meta["served_model"] == "gpt-4o-mini"


async def test_a_hit_is_replayed_as_a_well_formed_stream(gw: Gateway) -> None:
    await miss_then_store(gw, {"model": "fast", "messages": USER})
    _, reply = await send(gw, {"model": "fast", "messages": USER, "stream": True, "stream_options": {"include_usage": True}})
    assert isinstance(reply, Reply) and reply.headers["content-type"] == "text/event-stream"
    assert reply.body.endswith(b"data: [DONE]\n\n")
    chunks = events(reply.body)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hello!"
    assert chunks[-1]["usage"]["total_tokens"] == 13


async def test_a_streamed_miss_is_stored_and_replayed_buffered(gw: Gateway) -> None:
    proc, _ = await send(gw, {"model": "fast", "messages": USER, "stream": True})
    await proc.response_headers(SSE_200, False, {})
    pieces = [
        b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
        b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo!"},"finish_reason":"stop"}]}\n\n',
        b'data: {"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}\n\n',
        b"data: [DONE]\n\n",
    ]
    for index, piece in enumerate(pieces):
        await proc.response_body(piece, index == len(pieces) - 1)
    _, reply = await send(gw, {"model": "fast", "messages": USER})
    assert isinstance(reply, Reply) and orjson.loads(reply.body)["choices"][0]["message"]["content"] == "Hello!"


async def test_an_anthropic_client_gets_the_hit_in_its_own_format(gw: Gateway) -> None:
    await miss_then_store(gw, {"model": "fast", "messages": USER, "max_tokens": 100})
    _, reply = await send(gw, {"model": "fast", "max_tokens": 100, "messages": USER}, "/v1/messages")
    assert isinstance(reply, Reply)
    message = orjson.loads(reply.body)
    assert message["type"] == "message" and message["content"][0]["text"] == "Hello!"


async def test_errors_are_never_cached(gw: Gateway) -> None:
    error = orjson.dumps({"error": {"message": "overloaded", "type": "server_error"}})
    await miss_then_store(gw, {"model": "fast", "messages": USER}, answer=error, status="503")
    proc, again = await send(gw, {"model": "fast", "messages": USER})
    assert isinstance(again, Changes) and proc.ctx.cache_outcome == "miss"


async def test_another_tenant_never_hits(gw: Gateway) -> None:
    await miss_then_store(gw, {"model": "fast", "messages": USER}, tenant="acme")
    proc, other = await send(gw, {"model": "fast", "messages": USER}, tenant="globex")
    assert isinstance(other, Changes) and proc.ctx.cache_outcome == "miss"


async def test_cache_control_no_store_bypasses_and_no_cache_refreshes(gw: Gateway) -> None:
    await miss_then_store(gw, {"model": "fast", "messages": USER}, answer=completion("old"))
    proc, bypass = await send(gw, {"model": "fast", "messages": USER}, **{"cache-control": "no-store"})
    assert isinstance(bypass, Changes) and proc.ctx.cache_outcome == "bypass"
    await miss_then_store(gw, {"model": "fast", "messages": USER}, answer=completion("new"), **{"cache-control": "no-cache"})
    _, reply = await send(gw, {"model": "fast", "messages": USER})
    assert isinstance(reply, Reply) and orjson.loads(reply.body)["choices"][0]["message"]["content"] == "new"


async def test_a_temperature_above_the_bound_is_not_cached() -> None:
    gw = gateway(max_temperature=0.5)
    proc, first = await send(gw, {"model": "fast", "messages": USER})  # unset counts as 1.0
    assert isinstance(first, Changes) and proc.ctx.cache_outcome == "bypass"
    proc, cold = await send(gw, {"model": "fast", "messages": USER, "temperature": 0.2})
    assert proc.ctx.cache_outcome == "miss"


async def test_a_hit_goes_through_this_requests_output_policy_and_restore() -> None:
    privacy = PrivacyPolicies(default=Privacy(RequestPolicy("restore"), ResponsePolicy("mask", entities=("CREDIT_CARD",))))
    gw = gateway(privacy)
    answer = completion("Wrote to <EMAIL_ADDRESS_1>; card 4111 1111 1111 1111.")
    await miss_then_store(gw, {"model": "fast", "messages": [{"role": "user", "content": "mail a@example.com"}]}, answer=answer)
    # Another address, the same masked prompt: a hit, restored with this caller's own value.
    _, reply = await send(gw, {"model": "fast", "messages": [{"role": "user", "content": "mail b@example.org"}]})
    assert isinstance(reply, Reply)
    assert orjson.loads(reply.body)["choices"][0]["message"]["content"] == "Wrote to b@example.org; card <CREDIT_CARD>."


async def test_an_anthropic_stream_client_gets_the_hit_as_anthropics_event_sequence(gw: Gateway) -> None:
    await miss_then_store(gw, {"model": "fast", "messages": USER, "max_tokens": 100})
    _, reply = await send(gw, {"model": "fast", "max_tokens": 100, "stream": True, "messages": USER}, "/v1/messages")
    assert isinstance(reply, Reply) and reply.headers["content-type"] == "text/event-stream"
    names = [line[7:] for line in reply.body.decode().splitlines() if line.startswith("event: ")]
    assert names == ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]  # fmt: skip
    assert b'"text":"Hello!"' in reply.body and b'"stop_reason":"end_turn"' in reply.body
