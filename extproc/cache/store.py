"""Where cached answers live: one process's LRU, or Redis for every replica.

An entry is the provider's answer in the canonical format, as the model
wrote it (before the output policy and restore, which run again on every
replay), with what it cost. A store that fails is a miss, never an error.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import orjson

from extproc.stores import store_call

log = logging.getLogger(__name__)
PREFIX = "llm_gateway:cache"


@dataclass(slots=True)
class Entry:
    """One cached answer."""

    payload: dict[str, Any]
    created: float
    served_model: str
    provider: str
    cost_usd: float | None = None

    def age_seconds(self, now: float | None = None) -> int:
        """Whole seconds since the answer was stored."""
        return max(0, int((now if now is not None else time.time()) - self.created))


class CacheStore(Protocol):
    """Get, put and purge entries by tenant and key."""

    async def get(self, tenant: str, key: str) -> Entry | None:
        """The live entry, or None."""
        ...

    async def put(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:
        """Keep `entry` for `ttl_seconds`."""
        ...

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant`; how many there were."""
        ...


class MemoryCache:
    """A bounded LRU in this process, with a TTL per entry."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, Entry]] = OrderedDict()

    async def get(self, tenant: str, key: str) -> Entry | None:  # noqa: D102
        item = self._entries.get((tenant, key))
        if item is None:
            return None
        expires, entry = item
        if expires <= time.monotonic():
            del self._entries[(tenant, key)]
            return None
        self._entries.move_to_end((tenant, key))
        return entry

    async def put(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:  # noqa: D102
        self._entries[(tenant, key)] = (time.monotonic() + ttl_seconds, entry)
        self._entries.move_to_end((tenant, key))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def purge(self, tenant: str) -> int:  # noqa: D102
        doomed = [k for k in self._entries if k[0] == tenant]
        for k in doomed:
            del self._entries[k]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """Entries in Redis under `llm_gateway:cache:{tenant}:exact:<key>`, expiring by themselves."""

    def __init__(self, client: Any) -> None:
        self._redis = client

    async def get(self, tenant: str, key: str) -> Entry | None:  # noqa: D102
        try:
            raw = await self._redis.get(_key(tenant, key))
        except Exception as exc:  # redis-py's errors and OSError: the cache is optional
            log.warning("cache store unavailable, answering without it: %s", type(exc).__name__)
            return None
        if raw is None:
            return None
        try:
            return Entry(**orjson.loads(raw))
        except (orjson.JSONDecodeError, TypeError):
            return None

    async def put(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:  # noqa: D102
        try:
            await self._redis.set(_key(tenant, key), orjson.dumps(asdict(entry)), ex=ttl_seconds)
        except Exception as exc:
            log.warning("cache store unavailable, answer not cached: %s", type(exc).__name__)

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant`; StoreUnavailable when Redis does not answer."""
        count = 0
        with store_call("redis cache"):
            async for name in self._redis.scan_iter(match=f"{PREFIX}:{{{_escaped(tenant)}}}:*", count=500):
                count += await self._redis.unlink(name)
        return count


def _key(tenant: str, key: str) -> str:
    # The tenant in braces: a Redis Cluster keeps a tenant's entries in one slot, as the limits do.
    return f"{PREFIX}:{{{tenant}}}:exact:{key}"


def _escaped(text: str) -> str:
    """`text` with the glob characters of SCAN's MATCH escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
