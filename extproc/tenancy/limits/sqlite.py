"""Buckets, spend and holds in one SQLite file, shared by every service process on the host.

The embedded default (`store.kind: sqlite`): exact limits across the service
processes of one machine without Redis, and spend that survives a restart.
The database runs in WAL mode, so readers never wait for the writer. Each
operation is one `BEGIN IMMEDIATE` transaction: it takes the write lock
before reading, so a check and the change it allows cannot interleave with
another process's. Times are wall-clock (`time.time()`): the processes share
no other clock.

Every call runs on the database's own thread (`stores.SqliteDatabase`), so
the event loop never waits for the file lock or a WAL checkpoint.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from extproc.stores import SqliteDatabase
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

# How often each process sweeps out full buckets, expired holds and old spend counters.
_SWEEP_EVERY_S = 60.0
# Spend counters not written for this long belong to past periods.
_SPEND_KEPT_S = 40 * 86400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
  key TEXT PRIMARY KEY, level REAL NOT NULL, at REAL NOT NULL, full_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spend (
  tenant TEXT NOT NULL, period TEXT NOT NULL, usd REAL NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY (tenant, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, usd REAL NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_by_tenant ON holds (tenant, expires);
"""


class SqliteLimits:
    """The host-wide store: one SQLite database in WAL mode, written one transaction at a time."""

    def __init__(self, path: str | Path, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = wall_clock
        # Every writing transaction sweeps expired rows now and then, before it commits.
        self._db = SqliteDatabase(self.path, _SCHEMA, "sqlite limits", before_commit=self._maybe_sweep)
        self._swept = 0.0

    async def take(self, costs: list[tuple[Bucket, float]], hold: Hold | None = None) -> Admission:
        """One IMMEDIATE transaction: the budget check and hold, the bucket check and take."""
        return await self._db.run(lambda db: self._take(db, costs, hold))

    async def settle(self, changes: list[tuple[Bucket, float]], charge: Charge | None = None) -> tuple[Level, ...]:
        """One IMMEDIATE transaction: the buckets, the hold's release and the charge."""
        return await self._db.run(lambda db: self._settle(db, changes, charge))

    async def spend(self, tenant: str) -> Spend:
        """A read (WAL: it never waits for a writer)."""
        return await self._db.run(lambda db: self._spend(db, tenant, self._clock()), write=False)

    def close(self) -> None:
        """Close the connection and stop the thread (tests, benchmarks)."""
        self._db.close()

    def _maybe_sweep(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        if now - self._swept > _SWEEP_EVERY_S:
            self._sweep(db, now)

    def _take(self, db: sqlite3.Connection, costs: list[tuple[Bucket, float]], hold: Hold | None) -> Admission:
        now = self._clock()
        levels = [self._level(db, bucket, now) for bucket, _ in costs]
        spend = self._spend(db, hold.tenant, now) if hold is not None else None
        refused = refusal(costs, levels, hold, spend)
        if refused is not None:
            return refused
        after = [level - cost for level, (_, cost) in zip(levels, costs)]
        self._store_levels(db, [(bucket, level) for (bucket, _), level in zip(costs, after)], now)
        hold_id = None
        if hold is not None and hold.usd > 0:
            hold_id = secrets.token_hex(8)
            db.execute(
                "INSERT INTO holds (id, tenant, usd, expires) VALUES (?, ?, ?, ?)",
                (hold_id, hold.tenant, hold.usd, now + hold.ttl_seconds),
            )
        return Admission(True, levels_of(costs, after), hold_id=hold_id)

    def _settle(self, db: sqlite3.Connection, changes: list[tuple[Bucket, float]], charge: Charge | None) -> tuple[Level, ...]:
        now = self._clock()
        after = [(bucket, min(bucket.capacity, self._level(db, bucket, now) + change)) for bucket, change in changes]
        self._store_levels(db, after, now)
        if charge is not None:
            if charge.hold_id is not None:
                db.execute("DELETE FROM holds WHERE id = ?", (charge.hold_id,))
            if charge.usd:
                for period in periods(now):
                    db.execute(
                        "INSERT INTO spend (tenant, period, usd, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (tenant, period) DO UPDATE SET usd = usd + excluded.usd, updated = excluded.updated",
                        (charge.tenant, period, charge.usd, now),
                    )
        return tuple(Level(bucket, level) for bucket, level in after)

    def _spend(self, db: sqlite3.Connection, tenant: str, now: float) -> Spend:
        day, month = periods(now)
        rows = dict(db.execute("SELECT period, usd FROM spend WHERE tenant = ? AND period IN (?, ?)", (tenant, day, month)))
        (reserved,) = db.execute(
            "SELECT COALESCE(SUM(usd), 0) FROM holds WHERE tenant = ? AND expires > ?", (tenant, now)
        ).fetchone()
        return Spend(rows.get(day, 0.0), rows.get(month, 0.0), float(reserved))

    @staticmethod
    def _level(db: sqlite3.Connection, bucket: Bucket, now: float) -> float:
        row = db.execute("SELECT level, at FROM buckets WHERE key = ?", (bucket.key,)).fetchone()
        return refilled(bucket, row[0], now - row[1]) if row is not None else bucket.capacity

    @staticmethod
    def _store_levels(db: sqlite3.Connection, levels: list[tuple[Bucket, float]], now: float) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO buckets (key, level, at, full_at) VALUES (?, ?, ?, ?)",
            [(b.key, level, now, now + (b.capacity - level) / b.per_second) for b, level in levels],
        )

    def _sweep(self, db: sqlite3.Connection, now: float) -> None:
        """Forget what no longer counts: full buckets, expired holds, counters of past periods."""
        db.execute("DELETE FROM buckets WHERE full_at < ?", (now,))
        db.execute("DELETE FROM holds WHERE expires <= ?", (now,))
        db.execute("DELETE FROM spend WHERE updated < ?", (now - _SPEND_KEPT_S,))
        self._swept = now
