"""The exact cache end to end: real Envoy, two service processes sharing a real Redis, the fake
provider (which counts what reaches it), the real openai SDK."""

from __future__ import annotations

import asyncio
import random
import string
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio

from extproc.ops.launcher import Stack
from extproc.tenancy.keys import RedisKeyStore, generate_key, new_record
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack
from tests.support.redis_server import redis_server
from tests.support.sdk_clients import ADMIN_AUTH, TEST_ADMIN_KEY, openai_client

pytestmark = pytest.mark.e2e
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str], str]]:
    tmp = tmp_path_factory.mktemp("cache")
    with redis_server(tmp) as url:
        config = shipped_config()
        meta = tenancy_metadata(config)
        meta["store"] = {"kind": "redis", "redis_url": url, "on_error": "allow"}
        meta["cache"] = {"mode": "exact", "ttl_seconds": 600}
        keys = {tenant: generate_key() for tenant in ("acme", "globex")}

        async def add() -> None:
            client = redis.asyncio.Redis.from_url(url)
            for tenant, key in keys.items():
                await RedisKeyStore(client).add(new_record(key, tenant))
            await RedisKeyStore(client).add(new_record(TEST_ADMIN_KEY, "ops", admin=True))
            await client.aclose()

        asyncio.run(add())
        stack = start_stack(tmp, config, workers=2)
        try:
            yield stack, keys, url
        finally:
            stack.stop()


def _prompt() -> str:
    return "Tell me about " + "".join(random.choices(string.ascii_lowercase, k=12))


def _post(stack: Stack, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as http:
        return http.post(CHAT, json=body, headers={"authorization": f"Bearer {key}", **headers})


def test_a_repeated_request_is_answered_from_the_cache_by_every_replica(cached: tuple[Stack, dict[str, str], str]) -> None:
    stack, keys, _ = cached
    body = {"model": "fast", "messages": [{"role": "user", "content": _prompt()}]}
    first = _post(stack, keys["acme"], body)
    assert first.status_code == 200 and first.headers["x-gateway-cache"] == "miss"
    reached = len(fake_requests(stack))
    repeats = [_post(stack, keys["acme"], {**body, "model": "gpt-4o-mini"}) for _ in range(6)]
    assert all(r.status_code == 200 and r.headers["x-gateway-cache"] == "hit" for r in repeats)
    assert {r.json()["choices"][0]["message"]["content"] for r in repeats} == {first.json()["choices"][0]["message"]["content"]}
    assert len(fake_requests(stack)) == reached  # no provider call for any of them
    assert repeats[0].headers["x-gateway-served-model"] == first.headers["x-gateway-served-model"]
    assert int(repeats[0].headers["x-gateway-cache-age"]) >= 0
    line = access_log_entry(stack, repeats[0].headers["x-gateway-request-id"])
    assert line["cache"] == "hit" and line["status"] == 200


def test_another_tenant_never_gets_a_hit(cached: tuple[Stack, dict[str, str], str]) -> None:
    stack, keys, _ = cached
    body = {"model": "fast", "messages": [{"role": "user", "content": _prompt()}]}
    assert _post(stack, keys["acme"], body).headers["x-gateway-cache"] == "miss"
    assert _post(stack, keys["acme"], body).headers["x-gateway-cache"] == "hit"
    assert _post(stack, keys["globex"], body).headers["x-gateway-cache"] == "miss"


def test_a_hit_replays_as_a_stream_the_openai_sdk_reads(cached: tuple[Stack, dict[str, str], str]) -> None:
    stack, keys, _ = cached
    client: openai.OpenAI = openai_client(f"http://127.0.0.1:{stack.port}/v1", api_key=keys["acme"])
    messages = [{"role": "user", "content": _prompt()}]
    buffered = client.chat.completions.create(model="fast", messages=messages)
    raw = client.chat.completions.with_raw_response.create(
        model="fast", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-gateway-cache"] == "hit"
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == buffered.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == buffered.usage.total_tokens


def test_no_store_bypasses_and_a_tenant_can_purge_its_entries(cached: tuple[Stack, dict[str, str], str]) -> None:
    stack, keys, _ = cached
    body = {"model": "fast", "messages": [{"role": "user", "content": _prompt()}]}
    _post(stack, keys["acme"], body)
    assert _post(stack, keys["acme"], body, **{"cache-control": "no-store"}).headers["x-gateway-cache"] == "bypass"
    assert _post(stack, keys["acme"], body).headers["x-gateway-cache"] == "hit"
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as http:
        purged = http.delete("/v1/gateway/cache", headers={"authorization": f"Bearer {keys['acme']}"})
    assert purged.status_code == 200 and purged.json()["deleted"] >= 1 and purged.json()["tenant"] == "acme"
    assert _post(stack, keys["acme"], body).headers["x-gateway-cache"] == "miss"


def test_hits_and_savings_are_in_the_metrics(cached: tuple[Stack, dict[str, str], str]) -> None:
    stack, keys, _ = cached
    body = {"model": "fast", "messages": [{"role": "user", "content": _prompt()}]}
    _post(stack, keys["globex"], body)
    _post(stack, keys["globex"], body)
    metrics = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", headers=ADMIN_AUTH, timeout=10).text
    assert 'llm_gateway_cache_requests_total{outcome="hit",route="gpt-4o-mini",tenant="globex"}' in metrics
    assert 'llm_gateway_cache_saved_tokens_total{route="gpt-4o-mini",tenant="globex"}' in metrics


def test_with_redis_killed_requests_still_succeed(cached: tuple[Stack, dict[str, str], str]) -> None:
    """Last in the module: Redis does not come back."""
    stack, keys, url = cached
    body = {"model": "fast", "messages": [{"role": "user", "content": _prompt()}]}
    assert _post(stack, keys["acme"], body).status_code == 200  # the key is now in the replicas' caches
    port = url.split(":")[2].split("/")[0]
    pid = int(subprocess.run(["pgrep", "-f", f"redis-server 127.0.0.1:{port}"], capture_output=True, text=True).stdout.split()[0])
    subprocess.run(["kill", "-KILL", str(pid)], check=True)
    for _ in range(3):
        answer = _post(stack, keys["acme"], body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-gateway-cache"] == "miss"  # the store is gone: every lookup misses
    assert "Traceback" not in "".join(p.read_text() for p in Path(stack.run_dir).glob("service-*.log"))
