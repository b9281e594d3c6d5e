"""The one error a store raises when it cannot answer: policy code catches this, never a backend's own.

Redis down or hung, an SQLite database locked past its timeout or unreadable,
a key file that cannot be parsed: each store turns its backend's failure into
`StoreUnavailable`, and the stages decide what that means for the request
(admit and log, or refuse with a 503).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError


class StoreUnavailable(Exception):
    """A store could not be read or written right now (its backend is down, hung, locked or broken)."""


@contextmanager
def store_call(store: str) -> Iterator[None]:
    """Run a store's backend call, turning the backend's failure into StoreUnavailable naming `store`."""
    try:
        yield
    except (RedisError, sqlite3.Error, OSError, ValueError) as exc:
        # The cause's type only: a backend's message may carry a URL with a password.
        raise StoreUnavailable(f"{store}: {type(exc).__name__}") from exc
