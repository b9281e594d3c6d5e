"""Prompts in one SQLite file, shared by every service process on the host (the embedded default).

The same pattern as the limits store (`extproc/limits/sqlite.py`): WAL mode,
so readers never wait for a writer; every write is one `BEGIN IMMEDIATE`
transaction, which takes the write lock before it reads the latest version,
so two processes pushing at once get consecutive numbers and a version is
never half written; every call runs on one thread of its own per process,
which owns the connection, so the event loop never waits for the file lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from extproc.prompts.model import PromptHead, PromptTemplate, PromptVersion
from extproc.prompts.store import MAX_LISTED_VERSIONS, StoredVersion, head_of, next_version, to_version
from extproc.stores import in_transaction, open_sqlite, store_call

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
  namespace TEXT NOT NULL, name TEXT NOT NULL, latest INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prompt_versions (
  namespace TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
  document TEXT NOT NULL, digest TEXT NOT NULL, created_at REAL NOT NULL, created_by TEXT,
  PRIMARY KEY (namespace, name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prompt_labels (
  namespace TEXT NOT NULL, name TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (namespace, name, label)
) WITHOUT ROWID;
"""


class SqlitePromptStore:
    """The host-wide prompt store: one SQLite database in WAL mode, written one transaction at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prompts-sqlite")
        self._db: sqlite3.Connection | None = None

    async def add_version(  # noqa: D102
        self, namespace: str, template: PromptTemplate, author: str | None, labels: Sequence[str] = ()
    ) -> tuple[PromptVersion, bool]:
        stored = StoredVersion.of(template, author)
        return await self._run(lambda db: self._add(db, namespace, template.name, stored, labels))

    async def version(self, namespace: str, name: str, number: int) -> PromptVersion | None:  # noqa: D102
        rows = await self._run(lambda db: self._rows(db, namespace, name, "AND version = ?", (number,)), write=False)
        return rows[0] if rows else None

    async def versions(self, namespace: str, name: str) -> list[PromptVersion]:  # noqa: D102
        return await self._run(
            lambda db: self._rows(db, namespace, name, "AND version > (SELECT latest FROM prompts WHERE namespace = ? "
                                  "AND name = ?) - ?", (namespace, name, MAX_LISTED_VERSIONS)),
            write=False,
        )  # fmt: skip

    async def head(self, namespace: str, name: str) -> PromptHead | None:  # noqa: D102
        return await self._run(lambda db: self._head(db, namespace, name), write=False)

    async def heads(self, namespace: str) -> list[PromptHead]:  # noqa: D102
        def read(db: sqlite3.Connection) -> list[PromptHead]:
            names = [row[0] for row in db.execute("SELECT name FROM prompts WHERE namespace = ? ORDER BY name", (namespace,))]
            return [head for name in names if (head := self._head(db, namespace, name)) is not None]

        return await self._run(read, write=False)

    async def set_label(self, namespace: str, name: str, label: str, number: int) -> int | None:  # noqa: D102
        def move(db: sqlite3.Connection) -> int | None:
            exists = db.execute(
                "SELECT 1 FROM prompt_versions WHERE namespace = ? AND name = ? AND version = ?", (namespace, name, number)
            ).fetchone()
            if exists is None:
                return None
            row = db.execute(
                "SELECT version FROM prompt_labels WHERE namespace = ? AND name = ? AND label = ?", (namespace, name, label)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO prompt_labels (namespace, name, label, version) VALUES (?, ?, ?, ?)",
                (namespace, name, label, number),
            )
            return row[0] if row else 0

        return await self._run(move)

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        def close_db() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close_db)
        self._executor.shutdown()

    async def _run(self, operation: Callable[[sqlite3.Connection], _T], write: bool = True) -> _T:
        loop = asyncio.get_running_loop()
        with store_call(f"sqlite prompts {self.path}"):
            return await loop.run_in_executor(self._executor, self._in_transaction, operation, write)

    def _in_transaction(self, operation: Callable[[sqlite3.Connection], _T], write: bool) -> _T:
        if self._db is None:
            self._db = open_sqlite(self.path, _SCHEMA)
        return in_transaction(self._db, operation, write)

    @staticmethod
    def _add(
        db: sqlite3.Connection, namespace: str, name: str, stored: StoredVersion, labels: Sequence[str]
    ) -> tuple[PromptVersion, bool]:
        row = db.execute("SELECT latest FROM prompts WHERE namespace = ? AND name = ?", (namespace, name)).fetchone()
        latest = row[0] if row else 0
        previous = db.execute(
            "SELECT document, digest, created_at, created_by FROM prompt_versions "
            "WHERE namespace = ? AND name = ? AND version = ?",
            (namespace, name, latest),
        ).fetchone()
        stored, number, created = next_version(stored, latest, previous)
        if created:
            db.execute(
                "INSERT INTO prompt_versions (namespace, name, version, document, digest, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (namespace, name, number, stored.document.decode(), stored.digest, stored.created_at, stored.created_by),
            )
            db.execute(
                "INSERT INTO prompts (namespace, name, latest) VALUES (?, ?, ?) "
                "ON CONFLICT (namespace, name) DO UPDATE SET latest = excluded.latest",
                (namespace, name, number),
            )
        db.executemany(
            "INSERT OR REPLACE INTO prompt_labels (namespace, name, label, version) VALUES (?, ?, ?, ?)",
            [(namespace, name, label, number) for label in labels],
        )
        return stored.version(namespace, number), created

    @staticmethod
    def _rows(
        db: sqlite3.Connection, namespace: str, name: str, where: str, parameters: tuple[object, ...]
    ) -> list[PromptVersion]:
        rows = db.execute(
            "SELECT version, document, created_at, created_by FROM prompt_versions "
            f"WHERE namespace = ? AND name = ? {where} ORDER BY version",
            (namespace, name, *parameters),
        ).fetchall()
        return [to_version(namespace, number, document, at, by) for number, document, at, by in rows]

    @staticmethod
    def _head(db: sqlite3.Connection, namespace: str, name: str) -> PromptHead | None:
        row = db.execute("SELECT latest FROM prompts WHERE namespace = ? AND name = ?", (namespace, name)).fetchone()
        if row is None:
            return None
        labels = db.execute("SELECT label, version FROM prompt_labels WHERE namespace = ? AND name = ?", (namespace, name))
        return head_of(namespace, name, row[0], dict(labels.fetchall()))
