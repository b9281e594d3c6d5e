"""Prompts in PostgreSQL, shared by every replica (psycopg 3, async pool).

A push is one transaction that first locks the prompt's row in `prompts`
(`SELECT ... FOR UPDATE`, after an insert that creates the row if needed), so
concurrent pushes to one prompt queue on that row and get consecutive
numbers; the version, the new latest number and the labels commit together or
not at all. The tables are created on each new connection when missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from extproc.errors import StoreUnavailable
from extproc.prompts.model import PromptHead, PromptTemplate, PromptVersion
from extproc.prompts.store import MAX_LISTED_VERSIONS, StoredVersion, head_of, next_version, to_version

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS llm_gateway_prompts (namespace text NOT NULL, name text NOT NULL, "
    "latest int NOT NULL, PRIMARY KEY (namespace, name))",
    "CREATE TABLE IF NOT EXISTS llm_gateway_prompt_versions (namespace text NOT NULL, name text NOT NULL, "
    "version int NOT NULL, document jsonb NOT NULL, digest text NOT NULL, created_at double precision NOT NULL, "
    "created_by text, PRIMARY KEY (namespace, name, version))",
    "CREATE TABLE IF NOT EXISTS llm_gateway_prompt_labels (namespace text NOT NULL, name text NOT NULL, "
    "label text NOT NULL, version int NOT NULL, PRIMARY KEY (namespace, name, label))",
]
_SELECT_VERSIONS = (
    "SELECT version, document::text, created_at, created_by FROM llm_gateway_prompt_versions "
    "WHERE namespace = %s AND name = %s"
)


class PostgresPromptStore:
    """Prompts shared by replicas in PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, pool_size: int = 4, timeout_seconds: float = 2.0) -> None:
        self._url = url
        self._pool_size = pool_size
        self._timeout = timeout_seconds
        self._pool: Any = None

    async def add_version(  # noqa: D102
        self, namespace: str, template: PromptTemplate, author: str | None, labels: Sequence[str] = ()
    ) -> tuple[PromptVersion, bool]:
        stored = StoredVersion.of(template, author)
        name = template.name
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO llm_gateway_prompts (namespace, name, latest) VALUES (%s, %s, 0) ON CONFLICT DO NOTHING",
                (namespace, name),
            )
            (latest,) = await (
                await db.execute(
                    "SELECT latest FROM llm_gateway_prompts WHERE namespace = %s AND name = %s FOR UPDATE", (namespace, name)
                )
            ).fetchone()
            previous = await (
                await db.execute(
                    "SELECT document::text, digest, created_at, created_by FROM llm_gateway_prompt_versions "
                    "WHERE namespace = %s AND name = %s AND version = %s",
                    (namespace, name, latest),
                )
            ).fetchone()
            stored, number, created = next_version(stored, latest, previous)
            if created:
                await db.execute(
                    "INSERT INTO llm_gateway_prompt_versions (namespace, name, version, document, digest, created_at, "
                    "created_by) VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s)",
                    (namespace, name, number, stored.document.decode(), stored.digest, stored.created_at, stored.created_by),
                )
                await db.execute(
                    "UPDATE llm_gateway_prompts SET latest = %s WHERE namespace = %s AND name = %s", (number, namespace, name)
                )
            for label in labels:
                await self._upsert_label(db, namespace, name, label, number)
        return stored.version(namespace, number), created

    async def version(self, namespace: str, name: str, number: int) -> PromptVersion | None:  # noqa: D102
        rows = await self._rows(_SELECT_VERSIONS + " AND version = %s", (namespace, name, number))
        return to_version(namespace, *rows[0]) if rows else None

    async def versions(self, namespace: str, name: str) -> list[PromptVersion]:  # noqa: D102
        rows = await self._rows(
            _SELECT_VERSIONS + " ORDER BY version DESC LIMIT %s", (namespace, name, MAX_LISTED_VERSIONS)
        )
        return [to_version(namespace, *row) for row in reversed(rows)]

    async def head(self, namespace: str, name: str) -> PromptHead | None:  # noqa: D102
        heads = await self._heads(namespace, name)
        return heads[0] if heads else None

    async def heads(self, namespace: str) -> list[PromptHead]:  # noqa: D102
        return await self._heads(namespace, None)

    async def set_label(self, namespace: str, name: str, label: str, number: int) -> int | None:  # noqa: D102
        async with self._transaction() as db:
            exists = await (
                await db.execute(
                    "SELECT 1 FROM llm_gateway_prompt_versions WHERE namespace = %s AND name = %s AND version = %s",
                    (namespace, name, number),
                )
            ).fetchone()
            if exists is None:
                return None
            return await self._upsert_label(db, namespace, name, label, number)

    async def close(self) -> None:  # noqa: D102
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _heads(self, namespace: str, name: str | None) -> list[PromptHead]:
        # One statement: the latest number and the labels come from one snapshot.
        rows = await self._rows(
            "SELECT p.name, p.latest, l.label, l.version FROM llm_gateway_prompts p LEFT JOIN llm_gateway_prompt_labels l "
            "ON l.namespace = p.namespace AND l.name = p.name WHERE p.namespace = %s AND p.latest > 0"
            + (" AND p.name = %s" if name is not None else "") + " ORDER BY p.name",
            (namespace, name) if name is not None else (namespace,),
        )  # fmt: skip
        grouped: dict[str, tuple[int, dict[str, int]]] = {}
        for prompt, latest, label, version in rows:
            labels = grouped.setdefault(prompt, (latest, {}))[1]
            if label is not None:
                labels[label] = version
        return [head_of(namespace, prompt, latest, labels) for prompt, (latest, labels) in grouped.items()]

    @staticmethod
    async def _upsert_label(db: Any, namespace: str, name: str, label: str, number: int) -> int:
        row = await (
            await db.execute(
                "SELECT version FROM llm_gateway_prompt_labels WHERE namespace = %s AND name = %s AND label = %s",
                (namespace, name, label),
            )
        ).fetchone()
        await db.execute(
            "INSERT INTO llm_gateway_prompt_labels (namespace, name, label, version) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (namespace, name, label) DO UPDATE SET version = excluded.version",
            (namespace, name, label, number),
        )
        return int(row[0]) if row else 0

    async def _rows(self, statement: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self._connection() as db:
            return await (await db.execute(statement, parameters)).fetchall()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._connection() as db, db.transaction():
            yield db

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        import psycopg  # noqa: PLC0415 - only deployments with store postgres load it

        try:
            if self._pool is None:
                from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

                pool = AsyncConnectionPool(
                    self._url, min_size=1, max_size=self._pool_size, timeout=self._timeout, open=False,
                    kwargs={"connect_timeout": max(int(self._timeout), 1), "autocommit": True}, configure=_create_schema,
                )  # fmt: skip
                await pool.open(wait=False)
                self._pool = pool
            async with self._pool.connection() as connection:
                yield connection
        except (psycopg.Error, OSError) as exc:
            # The cause's type only: a backend's message may carry a URL with a password.
            raise StoreUnavailable(f"postgres prompts: {type(exc).__name__}") from exc


async def _create_schema(connection: Any) -> None:
    """The tables, on every new connection (cheap when they exist)."""
    import psycopg  # noqa: PLC0415

    for statement in _SCHEMA:
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # another replica created it at the same moment
            await connection.execute(statement)
