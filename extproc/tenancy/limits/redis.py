"""Buckets, spend and holds in Redis, shared by every replica (`store.kind: redis`).

Each operation is one Lua script: Redis runs it atomically, with its own
clock, so the budget check and the hold it allows, and the bucket check and
the take, cannot interleave with another replica's. A tenant's keys share the
`{tenant}` hash tag, so one script only touches one Redis Cluster slot.

Holds live in one hash per tenant (`hold id -> "usd|expiry"`); the scripts
drop expired ones as they add the rest up, and the hash itself expires with
its last hold.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from extproc.stores import store_call
from extproc.tenancy.limits.base import DAY, MONTH, PREFIX, Admission, Bucket, Charge, Hold, Level, Spend, periods

_DAY_TTL_S = 3 * 86400
_MONTH_TTL_S = 33 * 86400

# What every script may use, with the Redis server's clock.
_COMMON = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
-- A bucket's level now: the stored level plus what refilled since, never above capacity.
local function level_of(key, capacity)
  local stored = redis.call('HMGET', key, 'level', 'at')
  if not stored[1] then return capacity end
  return math.min(capacity, tonumber(stored[1]) + math.max(0, now - tonumber(stored[2])) * capacity / 60)
end
-- Store a level; the key lives until a minute after the bucket would be full again.
local function store(key, capacity, level)
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - level) / (capacity / 60) * 1000) + 60000)
end
-- The USD a tenant's open holds add up to; expired ones are dropped.
local function held(holds_key)
  local fields = redis.call('HGETALL', holds_key)
  local total = 0
  for i = 1, #fields, 2 do
    local usd, expires = string.match(fields[i + 1], '^([^|]+)|(.+)$')
    if tonumber(expires) <= now then
      redis.call('HDEL', holds_key, fields[i])
    else
      total = total + tonumber(usd)
    end
  end
  return total
end
local function number(key)
  return tonumber(redis.call('GET', key) or '0')
end
"""

# KEYS: the n bucket keys, then (with a hold) the tenant's holds, day and month keys.
# ARGV: n; per bucket its capacity and cost; then (with a hold) its id, USD, daily and
# monthly budget ('' for none) and time to live in seconds.
# Returns {admitted, seconds to wait, refusing budget or '', day, month, held, levels...}
# (numbers as strings: Redis would truncate Lua floats to integers).
_TAKE = _COMMON + """
local n = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i = 1, n do
  local capacity, cost = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  levels[i] = level_of(KEYS[i], capacity)
  if levels[i] < cost then wait = math.max(wait, (cost - levels[i]) / (capacity / 60)) end
end
local h = 2 * n + 2
local over, day, month, reserved = '', 0, 0, 0
if #KEYS > n then
  reserved = held(KEYS[n + 1])
  day, month = number(KEYS[n + 2]), number(KEYS[n + 3])
  if ARGV[h + 2] ~= '' and day + reserved >= tonumber(ARGV[h + 2]) then
    over = 'day'
  elseif ARGV[h + 3] ~= '' and month + reserved >= tonumber(ARGV[h + 3]) then
    over = 'month'
  end
end
local admitted = 0
if over == '' and wait == 0 then
  admitted = 1
  for i = 1, n do
    levels[i] = levels[i] - tonumber(ARGV[2 * i + 1])
    store(KEYS[i], tonumber(ARGV[2 * i]), levels[i])
  end
  if #KEYS > n and tonumber(ARGV[h + 1]) > 0 then
    local ttl = tonumber(ARGV[h + 4])
    redis.call('HSET', KEYS[n + 1], ARGV[h], ARGV[h + 1] .. '|' .. tostring(now + ttl))
    redis.call('PEXPIRE', KEYS[n + 1], math.ceil(ttl * 1000))
  end
end
local out = {admitted, tostring(wait), over, tostring(day), tostring(month), tostring(reserved)}
for i = 1, n do out[#out + 1] = tostring(levels[i]) end
return out
"""

# KEYS: the n bucket keys, then (with a charge) the tenant's holds, day and month keys.
# ARGV: n; per bucket its capacity and change; then (with a charge) the hold id ('' for
# none), the USD to add, and the day's and month's counter lifetimes. Returns the levels.
_SETTLE = _COMMON + """
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local capacity = tonumber(ARGV[2 * i])
  local level = math.min(capacity, level_of(KEYS[i], capacity) + tonumber(ARGV[2 * i + 1]))
  store(KEYS[i], capacity, level)
  out[i] = tostring(level)
end
if #KEYS > n then
  local h = 2 * n + 2
  if ARGV[h] ~= '' then redis.call('HDEL', KEYS[n + 1], ARGV[h]) end
  if tonumber(ARGV[h + 1]) > 0 then
    redis.call('INCRBYFLOAT', KEYS[n + 2], ARGV[h + 1])
    redis.call('EXPIRE', KEYS[n + 2], ARGV[h + 2])
    redis.call('INCRBYFLOAT', KEYS[n + 3], ARGV[h + 1])
    redis.call('EXPIRE', KEYS[n + 3], ARGV[h + 3])
  end
end
return out
"""

# KEYS: the tenant's holds, day and month keys. Returns {day, month, held}.
_SPEND = _COMMON + """
return {tostring(number(KEYS[2])), tostring(number(KEYS[3])), tostring(held(KEYS[1]))}
"""


class RedisLimits:
    """Buckets, spend and holds in Redis; each operation is one script call, one round trip."""

    def __init__(self, client: Any, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock
        self._take = client.register_script(_TAKE)
        self._settle = client.register_script(_SETTLE)
        self._spend = client.register_script(_SPEND)

    async def take(self, costs: list[tuple[Bucket, float]], hold: Hold | None = None) -> Admission:
        """One script call for every bucket of the request and its hold."""
        keys = [bucket.key for bucket, _ in costs]
        args: list[Any] = [len(costs), *_pairs(costs)]
        hold_id = secrets.token_hex(8) if hold is not None else None
        if hold is not None:
            keys += self._tenant_keys(hold.tenant)
            args += [hold_id, repr(float(hold.usd)), _optional(hold.per_day), _optional(hold.per_month), repr(hold.ttl_seconds)]
        with store_call("redis limits"):
            raw = await self._take(keys=keys, args=args)
            spend = Spend(float(raw[3]), float(raw[4]), float(raw[5]))
            levels = tuple(Level(bucket, float(value)) for (bucket, _), value in zip(costs, raw[6:]))
        if int(raw[0]) == 1:
            return Admission(True, levels, hold_id=hold_id if hold is not None and hold.usd > 0 else None)
        if raw[2]:
            return Admission(False, levels, over_budget=DAY if raw[2] == "day" else MONTH, spend=spend)
        short = tuple(level for level, (_, cost) in zip(levels, costs) if level.level < cost)
        return Admission(False, levels, retry_after=float(raw[1]), short=short)

    async def settle(self, changes: list[tuple[Bucket, float]], charge: Charge | None = None) -> tuple[Level, ...]:
        """One script call: the buckets, the hold's release and the charge."""
        keys = [bucket.key for bucket, _ in changes]
        args: list[Any] = [len(changes), *_pairs(changes)]
        if charge is not None:
            keys += self._tenant_keys(charge.tenant)
            args += [charge.hold_id or "", repr(float(charge.usd)), _DAY_TTL_S, _MONTH_TTL_S]
        with store_call("redis limits"):
            raw = await self._settle(keys=keys, args=args)
            return tuple(Level(bucket, float(value)) for (bucket, _), value in zip(changes, raw))

    async def spend(self, tenant: str) -> Spend:
        """One script call (expired holds are dropped on the way)."""
        with store_call("redis limits"):
            raw = await self._spend(keys=self._tenant_keys(tenant), args=[])
            return Spend(float(raw[0]), float(raw[1]), float(raw[2]))

    def _tenant_keys(self, tenant: str) -> list[str]:
        day, month = periods(self._wall_clock())
        spend = f"{PREFIX}:spend:{{{tenant}}}"
        return [f"{PREFIX}:holds:{{{tenant}}}", f"{spend}:{day}", f"{spend}:{month}"]


def _pairs(costs: list[tuple[Bucket, float]]) -> list[str]:
    return [value for bucket, cost in costs for value in (repr(bucket.capacity), repr(float(cost)))]


def _optional(value: float | None) -> str:
    return "" if value is None else repr(float(value))
