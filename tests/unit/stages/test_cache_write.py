"""The exact cache writes a miss's entry after the answer has gone: the client never waits for the store."""

from __future__ import annotations

import asyncio

from extproc.cache.store import Entry, MemoryCache
from extproc.decisions import Changes, Reply
from tests.unit.stages.test_cache import USER, gateway, miss_then_store, send


class HeldStore(MemoryCache):
    """An in-process store whose writes wait until the test lets them through (a slow Redis, say)."""

    def __init__(self) -> None:
        super().__init__(100)
        self.release = asyncio.Event()
        self.writes_started = 0

    async def put(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:
        self.writes_started += 1
        await self.release.wait()
        await super().put(tenant, key, entry, ttl_seconds)


async def test_the_answer_goes_out_before_the_entry_is_written() -> None:
    gw = gateway()
    assert gw.cache is not None
    store = gw.cache.store = HeldStore()
    answer = await asyncio.wait_for(miss_then_store(gw, {"model": "fast", "messages": USER}), timeout=10)
    assert isinstance(answer, Changes) and answer.set_headers["x-gateway-cache"] == "miss"
    await asyncio.sleep(0)  # the write has started, and waits
    assert store.writes_started == 1 and len(store) == 0
    # Meanwhile the same process already answers the repeat from the entry being written.
    _, repeat = await send(gw, {"model": "fast", "messages": USER})
    assert isinstance(repeat, Reply) and repeat.headers["x-gateway-cache"] == "hit"
    store.release.set()
    await gw.cache.written()
    assert len(store) == 1


async def test_a_purge_waits_for_the_writes_in_flight() -> None:
    gw = gateway()
    assert gw.cache is not None
    store = gw.cache.store = HeldStore()
    await miss_then_store(gw, {"model": "fast", "messages": USER})
    purge = asyncio.ensure_future(gw.cache.purge("anonymous"))
    await asyncio.sleep(0)
    assert not purge.done()
    store.release.set()
    assert await purge == 1 and len(store) == 0
    _, again = await send(gw, {"model": "fast", "messages": USER})
    assert isinstance(again, Changes)  # a miss: nothing survived the purge
