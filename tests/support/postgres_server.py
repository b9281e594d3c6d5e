"""A real PostgreSQL with pgvector for tests: the pgserver wheel (postgres binaries and the vector
extension inside a Python package), on a Unix socket in a temporary directory, stopped afterwards."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def postgres_server(tmp: Path) -> Iterator[tuple[str, int]]:
    """Start PostgreSQL in `tmp`; yield its URL and the postmaster's PID; stop it (pg_ctl) at the end."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        import pgserver

        server = pgserver.get_server(tmp / "pgdata", cleanup_mode="stop")
    try:
        yield server.get_uri(), int(server.get_pid() or 0)
    finally:
        server.cleanup()
