"""The SQLite store across processes: exact limits, spend that survives a restart, a clear failure when locked."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extproc import stores
from extproc.errors import StoreUnavailable
from extproc.tenancy.limits import REQUESTS, Bucket, Charge, Hold, SqliteLimits, bucket_key

BUCKET = Bucket(bucket_key("tenant", "acme", "all", REQUESTS), 40, REQUESTS, "tenant")

# One "service process": 60 takes of one request each, as fast as it can; prints how many were admitted.
_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from extproc.tenancy.limits import REQUESTS, Bucket, Hold, SqliteLimits, bucket_key

    async def main() -> None:
        store = SqliteLimits(sys.argv[1])
        bucket = Bucket(bucket_key("tenant", "acme", "all", REQUESTS), 40, REQUESTS, "tenant")
        hold = Hold("acme", usd=0.1, per_day=2.0)
        admitted = await asyncio.gather(*(store.take([(bucket, 1)], hold) for _ in range(60)))
        print(sum(a.admitted for a in admitted))
        store.close()

    asyncio.run(main())
    """
)


def test_two_processes_on_one_file_admit_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite3"
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(path)], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    counts = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    # The budget allows 20 holds of 0.1 below 2.0, the bucket 40 requests: the budget binds,
    # across both processes, however their transactions interleave.
    assert sum(counts) == 20, counts


async def test_spend_and_holds_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite3"
    before = SqliteLimits(path)
    admitted = await before.take([(BUCKET, 1)], Hold("acme", usd=0.3, per_day=1.0))
    await before.settle([], Charge("acme", 0.25))
    before.close()
    after = SqliteLimits(path)
    spend = await after.spend("acme")
    assert spend.day == pytest.approx(0.25) and spend.month == pytest.approx(0.25) and spend.reserved == pytest.approx(0.3)
    (level,) = await after.settle([(BUCKET, 0)], Charge("acme", 0.1, admitted.hold_id))
    assert level.level == pytest.approx(39, abs=0.1)
    assert (await after.spend("acme")).reserved == 0
    after.close()


async def test_spend_starts_over_on_a_new_day(tmp_path: Path) -> None:
    now = [1_795_000_000.0]  # 2026-11-18, UTC
    store = SqliteLimits(tmp_path / "limits.sqlite3", wall_clock=lambda: now[0])
    await store.settle([], Charge("acme", 1.0))
    now[0] += 86_400
    spend = await store.spend("acme")
    assert spend.day == 0.0 and spend.month == 1.0
    store.close()


async def test_a_database_locked_past_the_timeout_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stores, "SQLITE_BUSY_TIMEOUT_S", 0.1)
    path = tmp_path / "limits.sqlite3"
    store = SqliteLimits(path)
    await store.spend("acme")  # creates the database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in a stuck transaction
    try:
        with pytest.raises(StoreUnavailable, match="sqlite limits"):
            await store.take([(BUCKET, 1)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await store.take([(BUCKET, 1)])).admitted
    store.close()


async def test_the_sweep_forgets_full_buckets_and_expired_holds(tmp_path: Path) -> None:
    now = [1_795_000_000.0]
    store = SqliteLimits(tmp_path / "limits.sqlite3", wall_clock=lambda: now[0])
    await store.take([(BUCKET, 1)], Hold("acme", usd=0.5, per_day=1.0, ttl_seconds=10))
    now[0] += 3600  # the bucket is full again, the hold expired, and a sweep is due
    await store.take([(Bucket(bucket_key("tenant", "globex", "all", REQUESTS), 1, REQUESTS, "tenant"), 1)])
    store.close()
    db = sqlite3.connect(tmp_path / "limits.sqlite3")
    keys = [row[0] for row in db.execute("SELECT key FROM buckets")]
    holds = db.execute("SELECT COUNT(*) FROM holds").fetchone()[0]
    db.close()
    assert BUCKET.key not in keys and holds == 0
