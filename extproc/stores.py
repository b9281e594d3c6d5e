"""What the stores share: their backends' failures turned into StoreUnavailable, and the Redis client.

Redis down or hung, an SQLite database locked past its timeout or unreadable,
a key file that cannot be parsed: each store turns its backend's failure into
`StoreUnavailable` (`extproc.errors`), and the stages decide what that means
for the request (admit and log, or refuse with a 503). Nothing above the
stores catches a backend's own error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
