"""Conversation tiers in each store: remembered, refreshed by activity, forgotten after inactivity, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from extproc.errors import StoreUnavailable
from extproc.routing.conversations import (
    PREFIX,
    MemoryConversations,
    RedisConversations,
    SqliteConversations,
    conversation_key,
)
from extproc.stores import redis_client
from tests.support.redis_server import redis_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


OPENING = [{"role": "system", "content": "You are an architect."}, {"role": "user", "content": "Design a sharded queue."}]


def test_the_key_names_the_conversation_by_header_then_user_then_its_opening() -> None:
    by_header = conversation_key("t", "auto", "x-conversation-id", {"x-conversation-id": "c1"}, "u", OPENING)
    assert by_header == conversation_key("t", "auto", "x-conversation-id", {"x-conversation-id": "c1"}, "other", [])
    assert by_header != conversation_key("t2", "auto", "x-conversation-id", {"x-conversation-id": "c1"}, "u", OPENING)
    by_user = conversation_key("t", "auto", None, {}, "u", OPENING)
    assert by_user == conversation_key("t", "auto", None, {}, "u", [])
    follow_up = [*OPENING, {"role": "assistant", "content": "Here is a design..."}, {"role": "user", "content": "ok, do it"}]
    assert conversation_key("t", "auto", None, {}, None, OPENING) == conversation_key("t", "auto", None, {}, None, follow_up)
    assert conversation_key("t", "auto", None, {}, None, OPENING) != conversation_key("t", "auto", None, {}, None, OPENING[1:])
    # A digest: no text of the conversation reaches the store.
    assert by_header.startswith(PREFIX) and "architect" not in by_header and "c1" not in by_header


async def test_memory_store_expires_after_inactivity_and_activity_refreshes_it() -> None:
    clock = Clock()
    store = MemoryConversations(clock=clock)
    assert not await store.recall("k", 60)
    await store.remember("k", 60)
    clock.now += 50
    assert await store.recall("k", 60)  # refreshed: 60 s from now
    clock.now += 50
    assert await store.recall("k", 60)
    clock.now += 61
    assert not await store.recall("k", 60)


async def test_memory_store_is_bounded() -> None:
    store = MemoryConversations(max_entries=3)
    for n in range(5):
        await store.remember(f"k{n}", 60)
    assert [await store.recall(f"k{n}", 60) for n in range(5)] == [False, False, True, True, True]


async def test_sqlite_store_is_shared_by_processes_of_a_host_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    one, other = SqliteConversations(tmp_path / "s.sqlite3", clock), SqliteConversations(tmp_path / "s.sqlite3", clock)
    try:
        await one.remember("k", 60)
        assert await other.recall("k", 60)
        clock.now += 61
        assert not await other.recall("k", 60)
    finally:
        one.close()
        other.close()


async def test_sqlite_store_that_cannot_open_raises_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteConversations(blocker / "s.sqlite3")
    try:
        with pytest.raises(StoreUnavailable):
            await store.recall("k", 60)
    finally:
        store.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


async def test_redis_store_remembers_refreshes_and_expires(redis_url: str) -> None:
    client = redis_client(redis_url)
    store = RedisConversations(client)
    try:
        assert not await store.recall(PREFIX + "a", 1)
        await store.remember(PREFIX + "a", 1)
        assert await store.recall(PREFIX + "a", 2)
        assert 1 <= await client.ttl(PREFIX + "a") <= 2  # activity restarted the clock
        await asyncio.sleep(2.2)
        assert not await store.recall(PREFIX + "a", 2)
    finally:
        await client.aclose()


async def test_redis_down_raises_store_unavailable() -> None:
    client = redis_client("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(StoreUnavailable):
            await RedisConversations(client).recall(PREFIX + "a", 60)
    finally:
        await client.aclose()
