"""What every limits store holds and answers: token buckets, spend, and budget holds.

A limit of N per minute is a bucket of N that refills continuously at N/60
per second. A request takes from every bucket that applies to it at once,
or from none: `take` is all-or-nothing, so stacked limits (tenant, key,
model) never half-admit. The tokens a request reserved are settled when its
usage is known (`settle`): unused tokens go back, extra ones are taken, and
a bucket may go below zero (the next requests wait for it).

Budgets work the same way in money. At admission a request holds its worst
case against its tenant's budgets, in the same atomic step as the buckets:
it is admitted only while the spend so far plus every hold still open is
below each budget. Settling releases the hold and adds the real cost. So the
spend can pass a budget by at most one request's worst case, however many
requests run at once. A hold that is never settled (its process died)
expires after its time to live, so a crash cannot eat a budget for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

REQUESTS = "requests"
TOKENS = "tokens"
PREFIX = "llm_gateway"
DAY = "day"
MONTH = "month"
# Longer than any request may take (the shipped routes time out after 600 s).
DEFAULT_HOLD_TTL_S = 900.0


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
class Spend:
    """A tenant's spend in USD in the current UTC day and month, and what requests in flight hold."""

    day: float
    month: float
    reserved: float = 0.0


@dataclass(frozen=True, slots=True)
class Hold:
    """A request's worst-case cost, to hold against its tenant's budgets (None: no budget)."""

    tenant: str
    usd: float
    per_day: float | None = None
    per_month: float | None = None
    ttl_seconds: float = DEFAULT_HOLD_TTL_S


@dataclass(frozen=True, slots=True)
class Charge:
    """An answer's real cost for its tenant's spend, and the hold it releases (if one was made)."""

    tenant: str
    usd: float
    hold_id: str | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of `take`: admitted (with the hold made), or why not and how long to wait."""

    admitted: bool
    levels: tuple[Level, ...]
    retry_after: float = 0.0
    # The buckets that refused (empty when admitted or refused on budget).
    short: tuple[Level, ...] = ()
    # DAY or MONTH when a budget refused; the tenant's spend and holds as the check saw them.
    over_budget: str | None = None
    spend: Spend | None = None
    # The hold this admission made, which the request's settlement releases.
    hold_id: str | None = None


@dataclass(slots=True)
class Reservation:
    """What one admitted request holds until its answer is settled: tokens per bucket, and its budget hold."""

    tokens: list[tuple[Bucket, float]] = field(default_factory=list)
    hold_id: str | None = None


class Limits(Protocol):
    """Where buckets, spend and holds live."""

    async def take(self, costs: list[tuple[Bucket, float]], hold: Hold | None = None) -> Admission:
        """Take `cost` from every bucket and make the hold, or do neither if a bucket or budget is short."""
        ...

    async def settle(self, changes: list[tuple[Bucket, float]], charge: Charge | None = None) -> tuple[Level, ...]:
        """Give tokens back (positive) or take more (negative); release the charge's hold and add its cost."""
        ...

    async def spend(self, tenant: str) -> Spend:
        """The tenant's spend so far, and what its requests in flight hold."""
        ...


def bucket_key(scope: str, tenant: str, name: str, unit: str) -> str:
    """The store key of a bucket; the tenant in braces keeps a tenant's buckets in one Redis Cluster slot."""
    return f"{PREFIX}:rl:{{{tenant}}}:{scope}:{name}:{unit}"


def periods(now: float) -> tuple[str, str]:
    """The UTC day and month of a wall-clock time, as the spend counters name them."""
    return _periods_of_minute(math.floor(now / 60))


@lru_cache(maxsize=4)
def _periods_of_minute(minute: int) -> tuple[str, str]:
    # Every request names its periods twice (take, settle): formatting once per UTC minute is
    # exact, since a UTC day and month always start on a whole minute.
    moment = datetime.fromtimestamp(minute * 60, tz=UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")


def refilled(bucket: Bucket, level: float | None, elapsed: float) -> float:
    """A bucket's level now: the stored one (None: never used, so full) plus what refilled since."""
    if level is None:
        return bucket.capacity
    return min(bucket.capacity, level + max(0.0, elapsed) * bucket.per_second)


def levels_of(costs: list[tuple[Bucket, float]], levels: list[float]) -> tuple[Level, ...]:
    """Each bucket of `costs` at its level."""
    return tuple(Level(bucket, level) for (bucket, _), level in zip(costs, levels))


def short_of(costs: list[tuple[Bucket, float]], levels: list[float]) -> tuple[tuple[Level, ...], float]:
    """The buckets too low for their cost, and the seconds until every cost fits."""
    short = tuple(Level(b, level) for (b, cost), level in zip(costs, levels) if level < cost)
    wait = max(((cost - level) / b.per_second for (b, cost), level in zip(costs, levels) if level < cost), default=0.0)
    return short, wait


def over_budget(hold: Hold, spend: Spend) -> str | None:
    """DAY or MONTH when the spend plus open holds has reached that budget, else None."""
    if hold.per_day is not None and spend.day + spend.reserved >= hold.per_day:
        return DAY
    if hold.per_month is not None and spend.month + spend.reserved >= hold.per_month:
        return MONTH
    return None


def refusal(costs: list[tuple[Bucket, float]], levels: list[float], hold: Hold | None, spend: Spend | None) -> Admission | None:
    """The refusing Admission when a budget (checked first) or a bucket is short, else None (admit)."""
    if hold is not None and spend is not None:
        refused_by = over_budget(hold, spend)
        if refused_by is not None:
            return Admission(False, levels_of(costs, levels), over_budget=refused_by, spend=spend)
    short, wait = short_of(costs, levels)
    if short:
        return Admission(False, levels_of(costs, levels), retry_after=wait, short=short)
    return None
