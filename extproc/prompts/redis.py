"""Prompts in Redis, shared by every replica (redis-py asyncio).

A push is one Lua script, which Redis runs atomically: it reads the latest
version, compares digests, writes the new version, the latest number and the
labels together. Two replicas pushing at once get consecutive numbers, and a
reader sees a version whole or not at all. A namespace's keys share one hash
tag, `{llm_gateway:prompts:<namespace>}`, so a script touches one Redis
Cluster slot:

    ...:names          hash  name -> latest version
    ...:v:<name>       hash  version -> the stored version (JSON)
    ...:d:<name>       hash  version -> digest
    ...:l:<name>       hash  label -> version
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from extproc.prompts.model import PromptHead, PromptTemplate, PromptVersion
from extproc.prompts.store import MAX_LISTED_VERSIONS, StoredVersion, head_of
from extproc.stores import store_call

# KEYS: names, versions, digests, labels. ARGV: name, digest, stored version, then the labels.
# Returns {number, 1 if created else 0, the stored version}.
_ADD = """
local latest = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local number, created = latest, 0
if latest == 0 or redis.call('HGET', KEYS[3], tostring(latest)) ~= ARGV[2] then
  number, created = latest + 1, 1
  redis.call('HSET', KEYS[2], tostring(number), ARGV[3])
  redis.call('HSET', KEYS[3], tostring(number), ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], tostring(number))
end
for i = 4, #ARGV do redis.call('HSET', KEYS[4], ARGV[i], tostring(number)) end
return {number, created, redis.call('HGET', KEYS[2], tostring(number))}
"""

# KEYS: versions, labels. ARGV: label, version. Returns the previous version (0: none), or -1: no such version.
_SET_LABEL = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return -1 end
local previous = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return previous
"""


class RedisPromptStore:
    """Prompts shared by replicas in Redis (see the module docstring for the keys)."""

    def __init__(self, url: str, client: Any = None, timeout_seconds: float = 0.5) -> None:
        if client is None:
            import redis.asyncio  # noqa: PLC0415 - only deployments with a shared store need it

            client = redis.asyncio.Redis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
        self._redis = client
        self._add = client.register_script(_ADD)
        self._set_label = client.register_script(_SET_LABEL)

    async def add_version(  # noqa: D102
        self, namespace: str, template: PromptTemplate, author: str | None, labels: Sequence[str] = ()
    ) -> tuple[PromptVersion, bool]:
        stored = StoredVersion.of(template, author)
        keys = _Keys(namespace, template.name)
        with store_call("redis prompts"):
            number, created, raw = await self._add(
                keys=[keys.names, keys.versions, keys.digests, keys.labels],
                args=[template.name, stored.digest, stored.encode(), *labels],
            )
        return StoredVersion.decode(raw).version(namespace, int(number)), bool(created)

    async def version(self, namespace: str, name: str, number: int) -> PromptVersion | None:  # noqa: D102
        with store_call("redis prompts"):
            raw = await self._redis.hget(_Keys(namespace, name).versions, str(number))
        return StoredVersion.decode(raw).version(namespace, number) if raw is not None else None

    async def versions(self, namespace: str, name: str) -> list[PromptVersion]:  # noqa: D102
        keys = _Keys(namespace, name)
        with store_call("redis prompts"):
            latest = int(await self._redis.hget(keys.names, name) or 0)
            numbers = [str(n) for n in range(max(latest - MAX_LISTED_VERSIONS, 0) + 1, latest + 1)]
            raws = await self._redis.hmget(keys.versions, numbers) if numbers else []
        return [StoredVersion.decode(raw).version(namespace, int(n)) for n, raw in zip(numbers, raws) if raw is not None]

    async def head(self, namespace: str, name: str) -> PromptHead | None:  # noqa: D102
        keys = _Keys(namespace, name)
        with store_call("redis prompts"):
            async with self._redis.pipeline(transaction=True) as pipe:  # one consistent read of both
                latest, labels = await pipe.hget(keys.names, name).hgetall(keys.labels).execute()
        if latest is None:
            return None
        return head_of(namespace, name, int(latest), {_text(k): int(v) for k, v in labels.items()})

    async def heads(self, namespace: str) -> list[PromptHead]:  # noqa: D102
        names_key = _Keys(namespace, "").names
        with store_call("redis prompts"):
            names = sorted(_text(name) for name in await self._redis.hkeys(names_key))
        return [head for name in names if (head := await self.head(namespace, name)) is not None]

    async def set_label(self, namespace: str, name: str, label: str, number: int) -> int | None:  # noqa: D102
        keys = _Keys(namespace, name)
        with store_call("redis prompts"):
            previous = int(await self._set_label(keys=[keys.versions, keys.labels], args=[label, str(number)]))
        return None if previous < 0 else previous

    async def close(self) -> None:  # noqa: D102
        await self._redis.aclose()


class _Keys:
    """The Redis keys of one prompt (and of its namespace's name index)."""

    __slots__ = ("names", "versions", "digests", "labels")

    def __init__(self, namespace: str, name: str) -> None:
        tag = "{llm_gateway:prompts:" + namespace + "}"
        self.names = f"{tag}:names"
        self.versions = f"{tag}:v:{name}"
        self.digests = f"{tag}:d:{name}"
        self.labels = f"{tag}:l:{name}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
