"""Token buckets and spend counters, in process or in Redis.

A limit of N per minute is a bucket of N that refills continuously at N/60
per second. A request takes from every bucket that applies to it at once,
or from none: `take` is all-or-nothing, so stacked limits (tenant, key,
model) never half-admit. The tokens a request reserved are settled when its
usage is known (`settle`): unused tokens go back, extra ones are taken, and
a bucket may go below zero (the next requests wait for it).

`MemoryLimits` serves one service process. `RedisLimits` runs the same
arithmetic in Lua scripts, atomically on the Redis server with its clock, so
every replica on one Redis shares the buckets and counters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

REQUESTS = "requests"
TOKENS = "tokens"
_PREFIX = "llm_gateway"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit: `capacity` requests or tokens per minute, for one tenant, key or tenant and model."""

    key: str
    capacity: float
    unit: str  # REQUESTS or TOKENS
    scope: str  # "tenant", "key" or "model", for messages

    @property
    def per_second(self) -> float:
        """The refill rate."""
        return self.capacity / 60.0


@dataclass(frozen=True, slots=True)
class Level:
    """A bucket's content after an operation."""

    bucket: Bucket
    level: float

    @property
    def remaining(self) -> int:
        """Whole requests or tokens left now (never negative)."""
        return max(0, math.floor(self.level))

    @property
    def seconds_to_full(self) -> float:
        """Time until the bucket is full again."""
        return max(0.0, (self.bucket.capacity - self.level) / self.bucket.per_second)


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of `take`: admitted, or how long to wait."""

    admitted: bool
    levels: tuple[Level, ...]
    retry_after: float = 0.0
    # The buckets that refused (empty when admitted).
    short: tuple[Level, ...] = ()


@dataclass(frozen=True, slots=True)
class Spend:
    """A tenant's spend in USD in the current UTC day and month."""

    day: float
    month: float


class Limits(Protocol):
    """Where buckets and spend live."""

    async def take(self, costs: list[tuple[Bucket, float]]) -> Admission:
        """Take `cost` from every bucket, or from none if any has too little."""
        ...

    async def settle(self, changes: list[tuple[Bucket, float]]) -> tuple[Level, ...]:
        """Give back (positive) or take more (negative) once the real usage is known."""
        ...

    async def spend(self, tenant: str) -> Spend:
        """The tenant's spend so far."""
        ...

    async def add_spend(self, tenant: str, usd: float) -> Spend:
        """Add an answer's cost to the tenant's spend."""
        ...


def bucket_key(scope: str, tenant: str, name: str, unit: str) -> str:
    """The store key of a bucket; the tenant in braces keeps a tenant's buckets in one Redis Cluster slot."""
    return f"{_PREFIX}:rl:{{{tenant}}}:{scope}:{name}:{unit}"


def _periods(now: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")


class MemoryLimits:
    """Buckets and spend in this process: exact for one replica, per process for several."""

    def __init__(self, clock: Any = time.monotonic, wall_clock: Any = time.time) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        # key -> (level, when it was last computed)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._spend: dict[tuple[str, str], float] = {}

    async def take(self, costs: list[tuple[Bucket, float]]) -> Admission:
        """No await inside: the check and the take cannot interleave with another request."""
        now = self._clock()
        levels = [Level(bucket, self._level(bucket, now)) for bucket, _ in costs]
        short = tuple(level for level, (_, cost) in zip(levels, costs) if level.level < cost)
        if short:
            wait = max(
                (cost - level.level) / level.bucket.per_second
                for level, (_, cost) in zip(levels, costs)
                if level.level < cost
            )
            return Admission(False, tuple(levels), retry_after=wait, short=short)
        after = []
        for level, (bucket, cost) in zip(levels, costs):
            self._buckets[bucket.key] = (level.level - cost, now)
            after.append(Level(bucket, level.level - cost))
        return Admission(True, tuple(after))

    async def settle(self, changes: list[tuple[Bucket, float]]) -> tuple[Level, ...]:
        """Add each change, never above capacity."""
        now = self._clock()
        after = []
        for bucket, change in changes:
            level = min(bucket.capacity, self._level(bucket, now) + change)
            self._buckets[bucket.key] = (level, now)
            after.append(Level(bucket, level))
        return tuple(after)

    async def spend(self, tenant: str) -> Spend:
        """From this process's counters."""
        day, month = _periods(self._wall_clock())
        return Spend(self._spend.get((tenant, day), 0.0), self._spend.get((tenant, month), 0.0))

    async def add_spend(self, tenant: str, usd: float) -> Spend:
        """Add to the day's and the month's counter (old periods are dropped)."""
        day, month = _periods(self._wall_clock())
        for period in (day, month):
            self._spend[(tenant, period)] = self._spend.get((tenant, period), 0.0) + usd
        if len(self._spend) > 100_000:
            self._spend = {k: v for k, v in self._spend.items() if k[1] in (day, month)}
        return await self.spend(tenant)

    def _level(self, bucket: Bucket, now: float) -> float:
        stored = self._buckets.get(bucket.key)
        if stored is None:
            return bucket.capacity
        level, then = stored
        return min(bucket.capacity, level + (now - then) * bucket.per_second)


# What both scripts do to a bucket, with the Redis server's clock.
_BUCKETS = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
-- The level now: the stored level plus what refilled since, never above capacity.
local function level_of(key, capacity)
  local stored = redis.call('HMGET', key, 'level', 'at')
  if not stored[1] then return capacity end
  return math.min(capacity, tonumber(stored[1]) + (now - tonumber(stored[2])) * capacity / 60)
end
-- Store a level; the key lives until a minute after the bucket would be full again.
local function store(key, capacity, level)
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - level) / (capacity / 60) * 1000) + 60000)
end
"""

# KEYS: bucket keys. ARGV: per bucket, its capacity and cost. Returns
# {admitted, seconds to wait, level of each bucket} (numbers as strings: Redis
# would truncate Lua floats to integers).
_TAKE = _BUCKETS + """
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local cost = tonumber(ARGV[2 * i])
  levels[i] = level_of(KEYS[i], capacity)
  if levels[i] < cost then wait = math.max(wait, (cost - levels[i]) / (capacity / 60)) end
end
local admitted = 0
if wait == 0 then
  admitted = 1
  for i = 1, #KEYS do
    levels[i] = levels[i] - tonumber(ARGV[2 * i])
    store(KEYS[i], tonumber(ARGV[2 * i - 1]), levels[i])
  end
end
local out = {admitted, tostring(wait)}
for i = 1, #KEYS do out[#out + 1] = tostring(levels[i]) end
return out
"""

# KEYS: bucket keys. ARGV: per bucket, its capacity and the change. Returns the levels.
_SETTLE = _BUCKETS + """
local out = {}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local level = math.min(capacity, level_of(KEYS[i], capacity) + tonumber(ARGV[2 * i]))
  store(KEYS[i], capacity, level)
  out[i] = tostring(level)
end
return out
"""


class RedisLimits:
    """Buckets and spend in Redis, shared by every replica; each operation is one round trip."""

    def __init__(self, client: Any, wall_clock: Any = time.time) -> None:
        self._redis = client
        self._wall_clock = wall_clock
        self._take = client.register_script(_TAKE)
        self._settle = client.register_script(_SETTLE)

    async def take(self, costs: list[tuple[Bucket, float]]) -> Admission:
        """One script call for every bucket of the request."""
        keys = [bucket.key for bucket, _ in costs]
        args = [value for bucket, cost in costs for value in (repr(bucket.capacity), repr(float(cost)))]
        raw = await self._take(keys=keys, args=args)
        admitted = int(raw[0]) == 1
        levels = tuple(Level(bucket, float(value)) for (bucket, _), value in zip(costs, raw[2:]))
        if admitted:
            return Admission(True, levels)
        short = tuple(level for level, (_, cost) in zip(levels, costs) if level.level < cost)
        return Admission(False, levels, retry_after=float(raw[1]), short=short)

    async def settle(self, changes: list[tuple[Bucket, float]]) -> tuple[Level, ...]:
        """One script call."""
        keys = [bucket.key for bucket, _ in changes]
        args = [value for bucket, change in changes for value in (repr(bucket.capacity), repr(float(change)))]
        raw = await self._settle(keys=keys, args=args)
        return tuple(Level(bucket, float(value)) for (bucket, _), value in zip(changes, raw))

    async def spend(self, tenant: str) -> Spend:
        """Two GETs in one round trip."""
        day, month = self._spend_keys(tenant)
        values = await self._redis.mget(day, month)
        return Spend(float(values[0] or 0.0), float(values[1] or 0.0))

    async def add_spend(self, tenant: str, usd: float) -> Spend:
        """INCRBYFLOAT on both counters, in one transaction."""
        day, month = self._spend_keys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrbyfloat(day, usd).expire(day, 3 * 86400).incrbyfloat(month, usd).expire(month, 33 * 86400)
            result = await pipe.execute()
        return Spend(float(result[0]), float(result[2]))

    def _spend_keys(self, tenant: str) -> tuple[str, str]:
        day, month = _periods(self._wall_clock())
        return f"{_PREFIX}:spend:{{{tenant}}}:{day}", f"{_PREFIX}:spend:{{{tenant}}}:{month}"
