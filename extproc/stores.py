"""What the stores share: their backends' failures turned into StoreUnavailable, and the Redis client.

Redis down or hung, an SQLite database locked past its timeout or unreadable,
a key file that cannot be parsed: each store turns its backend's failure into
`StoreUnavailable` (`extproc.errors`), and the stages decide what that means
for the request (admit and log, or refuse with a 503). Nothing above the
stores catches a backend's own error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from redis.exceptions import RedisError

from extproc.errors import StoreUnavailable


@contextmanager
def store_call(store: str) -> Iterator[None]:
    """Run a store's backend call, turning the backend's failure into StoreUnavailable naming `store`."""
    try:
        yield
    except (RedisError, sqlite3.Error, OSError, ValueError) as exc:
        # The cause's type only: a backend's message may carry a URL with a password.
        raise StoreUnavailable(f"{store}: {type(exc).__name__}") from exc


def redis_client(url: str) -> Any:
    """An asyncio Redis client that gives up quickly: a slow store must not hold requests."""
    import redis.asyncio  # noqa: PLC0415 - only deployments with a shared store need it

    return redis.asyncio.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True)


_T = TypeVar("_T")
# How long an SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 2.0


def open_sqlite(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the SQLite file at `path` (made, with its schema, if new): WAL, so that the
    service processes of a host read while one writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_S)
    db.execute("PRAGMA journal_mode=WAL")
    # Durable across a process crash; the last transactions may be lost to a power cut.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


def in_transaction(
    db: sqlite3.Connection,
    operation: Callable[[sqlite3.Connection], _T],
    write: bool,
    before_commit: Callable[[sqlite3.Connection], None] | None = None,
) -> _T:
    """`operation` in one transaction; a writing one takes the write lock first (IMMEDIATE)."""
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        result = operation(db)
        if before_commit is not None:
            before_commit(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result
