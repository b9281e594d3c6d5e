"""Token buckets, spend and budget holds: the vocabulary (`base`) and one module per store.

- `memory`: in this process (one service process; tests);
- `sqlite`: one file shared by every service process of a host (the embedded default);
- `redis`: shared by every replica on one Redis.

All three keep the same contract (`Limits`): `take` checks and takes in one
atomic step, `settle` gives back, charges and releases in one.
"""

from __future__ import annotations

from extproc.tenancy.limits.base import (
    DAY,
    DEFAULT_HOLD_TTL_S,
    MONTH,
    REQUESTS,
    TOKENS,
    Admission,
    Bucket,
    Charge,
    Hold,
    Level,
    Limits,
    Reservation,
    Spend,
    bucket_key,
)
from extproc.tenancy.limits.memory import MemoryLimits
from extproc.tenancy.limits.redis import RedisLimits
from extproc.tenancy.limits.sqlite import SqliteLimits

__all__ = [
    "DAY",
    "DEFAULT_HOLD_TTL_S",
    "MONTH",
    "REQUESTS",
    "TOKENS",
    "Admission",
    "Bucket",
    "Charge",
    "Hold",
    "Level",
    "Limits",
    "MemoryLimits",
    "RedisLimits",
    "Reservation",
    "SqliteLimits",
    "Spend",
    "bucket_key",
]
