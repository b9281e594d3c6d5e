"""The semantic cache end to end: real Envoy, two service processes, Redis for exact entries and
PostgreSQL with pgvector (the pgserver wheel) for the semantic index, the fake provider and the openai
SDK. A paraphrase hits; a near miss and another tenant do not; with Postgres or Redis killed, requests
still succeed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import string
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio

from extproc.keys import RedisKeyStore, generate_key, new_record
from extproc.launcher import Stack
from extproc.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack
from tests.postgres_server import postgres_server
from tests.redis_server import redis_server
from tests.sdk_clients import ADMIN_AUTH, TEST_ADMIN_KEY, openai_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str], int]]:
    tmp = tmp_path_factory.mktemp("semantic")
    with redis_server(tmp) as redis_url, postgres_server(tmp) as (postgres_url, postgres_pid):
        config = shipped_config()
        meta = tenancy_metadata(config)
        meta["store"] = {"kind": "redis", "redis_url": redis_url, "on_error": "allow"}
        meta["cache"] = {"mode": "semantic", "ttl_seconds": 600, "semantic_store": "pgvector", "postgres_url": postgres_url}
        keys = {tenant: generate_key() for tenant in ("acme", "globex")}

        async def add() -> None:
            client = redis.asyncio.Redis.from_url(redis_url)
            for tenant, key in keys.items():
                await RedisKeyStore(client).add(new_record(key, tenant))
            await RedisKeyStore(client).add(new_record(TEST_ADMIN_KEY, "ops", admin=True))
            await client.aclose()

        asyncio.run(add())
        stack = start_stack(tmp, config, workers=2)
        try:
            yield stack, keys, postgres_pid
        finally:
            stack.stop()


def _client(stack: Stack, key: str) -> openai.OpenAI:
    return openai_client(f"http://127.0.0.1:{stack.port}/v1", api_key=key)


def _ask(client: openai.OpenAI, text: str, **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": text}], **extra)


def _subject() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=8))


def test_a_paraphrase_is_answered_from_the_semantic_cache(semantic: tuple[Stack, dict[str, str], int]) -> None:
    stack, keys, _ = semantic
    client = _client(stack, keys["acme"])
    subject = _subject()
    first = _ask(client, f"How do I reverse a list in Python? ({subject})")
    assert first.headers["x-gateway-cache"] == "miss"
    reached = len(fake_requests(stack))
    again = _ask(client, f"Python: what's the way to reverse a list? ({subject})")
    assert again.headers["x-gateway-cache"] == "hit" and again.headers["x-gateway-cache-match"] == "semantic"
    assert float(again.headers["x-gateway-cache-similarity"]) >= 0.82
    assert again.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert len(fake_requests(stack)) == reached
    line = access_log_entry(stack, again.headers["x-gateway-request-id"])
    assert line["cache"] == "hit"
    streamed = client.chat.completions.create(
        model="fast", stream=True, messages=[{"role": "user", "content": f"In Python, how can I reverse a list? ({subject})"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == first.parse().choices[0].message.content


def test_a_near_miss_and_another_tenant_never_hit(semantic: tuple[Stack, dict[str, str], int]) -> None:
    stack, keys, _ = semantic
    subject = _subject()
    acme = _client(stack, keys["acme"])
    assert _ask(acme, f"Convert 5 miles to km for {subject}").headers["x-gateway-cache"] == "miss"
    assert _ask(acme, f"Convert 50 miles to km for {subject}").headers["x-gateway-cache"] == "miss"
    assert _ask(acme, f"Convert 5 km to miles for {subject}").headers["x-gateway-cache"] == "miss"
    globex = _client(stack, keys["globex"])
    assert _ask(globex, f"Convert 5 miles to km for {subject}").headers["x-gateway-cache"] == "miss"


def test_with_postgres_killed_requests_still_succeed(semantic: tuple[Stack, dict[str, str], int]) -> None:
    """Last in the module: Postgres does not come back (Redis being killed is test_cache.py's)."""
    stack, keys, postgres_pid = semantic
    client = _client(stack, keys["acme"])
    assert _ask(client, f"warm the key cache {_subject()}").http_response.status_code == 200
    os.kill(postgres_pid, signal.SIGKILL)
    for _ in range(3):
        answer = _ask(client, f"What is the capital of {_subject()}?")
        assert answer.http_response.status_code == 200 and answer.headers["x-gateway-cache"] == "miss"
    with httpx.Client(timeout=10) as http:
        metrics = http.get(f"http://127.0.0.1:{stack.port}/metrics", headers=ADMIN_AUTH).text
    assert 'outcome="hit"' in metrics
