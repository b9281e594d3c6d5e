"""The cache stage through the router processor: what a hit saved is what its answer cost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from extproc.app import Gateway, build_gateway
from extproc.cache.policy import CachePolicies, CachePolicy
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.telemetry import metrics
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

JSON_200 = {":status": "200", "content-type": "application/json", "x-envoy-upstream-service-time": "3"}
USER = [{"role": "user", "content": "Say hello"}]
ANSWER = orjson.dumps({
    "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
})  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    metrics.configure(None)
    yield
    metrics.configure(None)


@pytest.fixture
def gateway() -> Gateway:
    return build_gateway(
        gateway_config("gpt-4o-mini"),
        credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
        settings=Settings(auth_mode="none"),
        privacy=PrivacyPolicies(),
        cache=CachePolicies(default=CachePolicy(mode="exact")),
    )


async def _request(gateway: Gateway, body: dict[str, Any]) -> tuple[RouterProcessor, Reply | Changes]:
    processor = RouterProcessor(gateway)
    headers = {":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json"}
    assert await processor.request_headers(headers, False) == Changes()
    return processor, await processor.request_body(orjson.dumps(body))


def _saved_usd() -> float:
    body, _ = metrics.render()
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "llm_gateway_cache_saved_usd_total"
    )


async def test_a_buffered_hit_saves_what_the_original_answer_cost(gateway: Gateway) -> None:
    first, changes = await _request(gateway, {"model": "fast", "messages": USER})
    assert isinstance(changes, Changes) and first.ctx.cache_outcome == "miss"
    await first.response_headers(JSON_200, False, {})
    answered = await first.response_body(ANSWER, True)
    assert answered.metadata is not None
    price = answered.metadata["cost_usd"]
    assert isinstance(price, float) and price > 0

    hit, reply = await _request(gateway, {"model": "fast", "messages": USER})
    assert isinstance(reply, Reply) and reply.headers["x-gateway-cache"] == "hit"
    assert reply.headers["x-gateway-cost-usd"] == "0"  # the client paid nothing for the hit
    assert _saved_usd() == pytest.approx(price, rel=1e-9)
    log_line = hit.reply_metadata(reply)
    assert log_line["cost_usd"] == 0 and log_line["cache_saved_usd"] == pytest.approx(price, rel=1e-9)
