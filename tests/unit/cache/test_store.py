"""Cache stores: the same behaviour in process and in a real Redis; a failing Redis is a miss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio

from extproc.cache.store import CacheStore, Entry, MemoryCache, RedisCache
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CacheStore]:
    if request.param == "memory":
        yield MemoryCache(max_entries=100)
        return
    client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
    await client.flushdb()
    yield RedisCache(client)
    await client.aclose()


def entry(text: str = "hi") -> Entry:
    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return Entry(payload=payload, created=1_700_000_000.0, served_model="gpt-4o-mini", provider="openai", cost_usd=0.001)


async def test_an_entry_comes_back_as_it_was_stored(store: CacheStore) -> None:
    await store.put("acme", "k1", entry("cached"), ttl_seconds=60)
    got = await store.get("acme", "k1")
    assert got == entry("cached")
    assert await store.get("acme", "k2") is None


async def test_tenants_never_see_each_others_entries(store: CacheStore) -> None:
    await store.put("acme", "same-key", entry("acme's"), ttl_seconds=60)
    assert await store.get("globex", "same-key") is None


async def test_entries_expire(store: CacheStore) -> None:
    await store.put("acme", "k", entry(), ttl_seconds=1)
    assert await store.get("acme", "k") is not None
    await asyncio.sleep(1.2)
    assert await store.get("acme", "k") is None


async def test_purge_forgets_one_tenant_only(store: CacheStore) -> None:
    for key in ("a", "b", "c"):
        await store.put("acme", key, entry(), ttl_seconds=60)
    await store.put("glob*ex", "a", entry(), ttl_seconds=60)
    assert await store.purge("acme") == 3
    assert await store.get("acme", "a") is None
    assert await store.get("glob*ex", "a") is not None
    assert await store.purge("glob*") == 0  # a pattern is a name, not a glob


async def test_the_memory_store_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.put("t", "old", entry(), 60)
    await cache.put("t", "used", entry(), 60)
    assert await cache.get("t", "old") is not None  # now the most recently used
    await cache.put("t", "new", entry(), 60)
    assert len(cache) == 2
    assert await cache.get("t", "used") is None and await cache.get("t", "old") is not None


async def test_an_unreachable_redis_is_a_miss_and_a_skipped_store() -> None:
    client = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    cache = RedisCache(client)
    await cache.put("acme", "k", entry(), 60)  # logged, not raised
    assert await cache.get("acme", "k") is None
    await client.aclose()
