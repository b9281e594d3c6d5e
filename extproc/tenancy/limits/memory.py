"""Buckets, spend and holds in this process: exact for one service process, per process for several.

No method awaits anything between its check and its change, so on one event
loop a check and the take it allows cannot interleave with another request's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from extproc.tenancy.limits.base import (
    Admission,
    Bucket,
    Charge,
    Hold,
    Level,
    Spend,
    levels_of,
    periods,
    refilled,
    refusal,
)

# Drop the counters of past periods once there are this many (tenants times periods).
_MAX_SPEND_ENTRIES = 100_000


class MemoryLimits:
    """The in-process store (`store.kind: memory`): tests, and a single service process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        # key -> (level, when it was last computed)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._spend: dict[tuple[str, str], float] = {}
        # tenant -> hold id -> (USD, expiry on `clock`)
        self._holds: dict[str, dict[str, tuple[float, float]]] = {}

    async def take(self, costs: list[tuple[Bucket, float]], hold: Hold | None = None) -> Admission:
        """Check the budgets, then the buckets; change anything only when both allow."""
        now = self._clock()
        levels = [self._level(bucket, now) for bucket, _ in costs]
        spend = self._spend_now(hold.tenant, now) if hold is not None else None
        refused = refusal(costs, levels, hold, spend)
        if refused is not None:
            return refused
        after = [level - cost for level, (_, cost) in zip(levels, costs)]
        for (bucket, _), level in zip(costs, after):
            self._buckets[bucket.key] = (level, now)
        hold_id = None
        if hold is not None and hold.usd > 0:
            hold_id = secrets.token_hex(8)
            self._holds.setdefault(hold.tenant, {})[hold_id] = (hold.usd, now + hold.ttl_seconds)
        return Admission(True, levels_of(costs, after), hold_id=hold_id)

    async def settle(self, changes: list[tuple[Bucket, float]], charge: Charge | None = None) -> tuple[Level, ...]:
        """Add each change, never above capacity; release the hold and add the cost."""
        now = self._clock()
        after = []
        for bucket, change in changes:
            level = min(bucket.capacity, self._level(bucket, now) + change)
            self._buckets[bucket.key] = (level, now)
            after.append(Level(bucket, level))
        if charge is not None:
            holds = self._holds.get(charge.tenant)
            if holds is not None and charge.hold_id is not None:
                holds.pop(charge.hold_id, None)
                if not holds:
                    del self._holds[charge.tenant]
            if charge.usd:
                self._add_spend(charge.tenant, charge.usd)
        return tuple(after)

    async def spend(self, tenant: str) -> Spend:
        """From this process's counters and holds."""
        return self._spend_now(tenant, self._clock())

    def _spend_now(self, tenant: str, now: float) -> Spend:
        day, month = periods(self._wall_clock())
        holds = self._holds.get(tenant, {})
        for hold_id in [h for h, (_, expires) in holds.items() if expires <= now]:
            del holds[hold_id]
        reserved = sum(usd for usd, _ in holds.values())
        return Spend(self._spend.get((tenant, day), 0.0), self._spend.get((tenant, month), 0.0), reserved)

    def _add_spend(self, tenant: str, usd: float) -> None:
        day, month = periods(self._wall_clock())
        for period in (day, month):
            self._spend[(tenant, period)] = self._spend.get((tenant, period), 0.0) + usd
        if len(self._spend) > _MAX_SPEND_ENTRIES:
            self._spend = {k: v for k, v in self._spend.items() if k[1] in (day, month)}

    def _level(self, bucket: Bucket, now: float) -> float:
        stored = self._buckets.get(bucket.key)
        if stored is None:
            return bucket.capacity
        level, then = stored
        return refilled(bucket, level, now - then)
