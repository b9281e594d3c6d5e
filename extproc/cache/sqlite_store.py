"""Cached answers in the host's SQLite file, shared by every service process of the host (store.kind: sqlite).

With the in-process LRU, `up --workers 2` sent a repeated request to the other
process, which had not seen it: the second identical request missed and the
third hit. Here every process of the host reads and writes one table, in the
same file as the limits (`store.path`), so a repeat is a hit wherever it
lands. Reads never wait for a writer (WAL); a store that fails is a miss,
never an error, as with Redis.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

import orjson

from extproc.cache.store import Entry
from extproc.errors import StoreUnavailable
from extproc.stores import SqliteDatabase

log = logging.getLogger(__name__)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
  tenant TEXT NOT NULL, key TEXT NOT NULL, expires REAL NOT NULL, entry BLOB NOT NULL,
  PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entries_by_expiry ON cache_entries (expires);
"""


class SqliteCache:
    """Entries in one table of the host's SQLite file, each with its expiry; at most `max_entries`."""

    def __init__(self, path: str | Path, max_entries: int = 10_000) -> None:
        self.path = Path(path)
        self._max = max_entries
        self._db = SqliteDatabase(self.path, _SCHEMA, "sqlite cache")

    async def get(self, tenant: str, key: str) -> Entry | None:  # noqa: D102
        try:
            raw = await self._db.run(lambda db: db.execute(
                "SELECT entry FROM cache_entries WHERE tenant = ? AND key = ? AND expires > ?", (tenant, key, time.time())
            ).fetchone(), write=False)  # fmt: skip
        except StoreUnavailable as exc:
            log.warning("cache store unavailable, answering without it: %s", exc)
            return None
        if raw is None:
            return None
        try:
            return Entry(**orjson.loads(raw[0]))
        except (orjson.JSONDecodeError, TypeError):
            return None

    async def put(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:  # noqa: D102
        blob = orjson.dumps(asdict(entry))
        try:
            await self._db.run(lambda db: self._put(db, tenant, key, blob, time.time() + ttl_seconds))
        except StoreUnavailable as exc:
            log.warning("cache store unavailable, answer not cached: %s", exc)

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant`; StoreUnavailable when the file cannot be written."""
        return await self._db.run(lambda db: db.execute("DELETE FROM cache_entries WHERE tenant = ?", (tenant,)).rowcount)

    def close(self) -> None:
        """Close the connection and stop the thread (tests)."""
        self._db.close()

    def _put(self, db: sqlite3.Connection, tenant: str, key: str, blob: bytes, expires: float) -> None:
        db.execute("INSERT OR REPLACE INTO cache_entries VALUES (?, ?, ?, ?)", (tenant, key, expires, blob))
        db.execute("DELETE FROM cache_entries WHERE expires <= ?", (time.time(),))
        (count,) = db.execute("SELECT count(*) FROM cache_entries").fetchone()
        if count > self._max:  # the entries closest to expiring go first
            db.execute(
                "DELETE FROM cache_entries WHERE (tenant, key) IN (SELECT tenant, key FROM cache_entries ORDER BY expires LIMIT ?)",
                (count - self._max,),
            )
