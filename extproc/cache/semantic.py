"""The semantic cache's index: earlier prompts' embeddings, searched within one tenant and scope.

A scope is everything about a request except its last user message (route,
system prompt, earlier turns, every output-changing parameter), hashed: two
requests are compared by meaning only when all of that is equal, and never
across tenants (the tenant is a hard filter in both indexes). Each entry keeps
its prompt text, for the guards (`guards.py`) to compare with the new one.

Two indexes: this process's own (numpy, bounded, TTL) and PostgreSQL with
pgvector (an HNSW index, shared by every replica). One that fails is a miss.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import orjson

from .keys import OUTPUT_NEUTRAL, normalised_message
from .store import Entry

log = logging.getLogger(__name__)
TABLE = "llm_gateway_semantic_cache"


@dataclass(slots=True)
class Candidate:
    """A stored answer near the new prompt."""

    similarity: float
    prompt: str
    entry: Entry


def last_user_text(body: dict[str, Any]) -> str | None:
    """The text of the request's last message when it is the user's (the text that is embedded)."""
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return None
    content = normalised_message(messages[-1]).get("content")
    return content if isinstance(content, str) and content.strip() else None


def scope_key(tenant: str, route: str, body: dict[str, Any]) -> str:
    """A digest of everything but the last user message: requests are compared only within one."""
    fields = {k: v for k, v in body.items() if k not in OUTPUT_NEUTRAL}
    fields["messages"] = [normalised_message(m) for m in (body.get("messages") or [])[:-1]]
    material = orjson.dumps({"v": 1, "tenant": tenant, "route": route, "request": fields}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()


class SemanticIndex(Protocol):
    """Add and search embeddings by tenant and scope."""

    async def search(self, tenant: str, scope: str, vector: np.ndarray, limit: int = 5) -> list[Candidate]:
        """The nearest live entries, most similar first."""
        ...

    async def add(self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int) -> None:
        """Keep one entry for `ttl_seconds`."""
        ...

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant`; how many there were."""
        ...


@dataclass(slots=True)
class _Stored:
    vector: np.ndarray
    prompt: str
    entry: Entry
    expires: float


class MemoryIndex:
    """This process's index: a list per (tenant, scope), at most `max_entries` in all (oldest go first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._scopes: dict[tuple[str, str], list[_Stored]] = {}
        self._order: list[tuple[str, str]] = []  # the scope of each entry, oldest first

    async def search(self, tenant: str, scope: str, vector: np.ndarray, limit: int = 5) -> list[Candidate]:  # noqa: D102
        now = time.monotonic()
        stored = [s for s in self._scopes.get((tenant, scope), ()) if s.expires > now]
        if not stored:
            return []
        similarities = np.stack([s.vector for s in stored]) @ vector
        best = np.argsort(-similarities)[:limit]
        return [Candidate(float(similarities[i]), stored[i].prompt, stored[i].entry) for i in best]

    async def add(self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int) -> None:  # noqa: D102
        self._scopes.setdefault((tenant, scope), []).append(_Stored(vector, prompt, entry, time.monotonic() + ttl_seconds))
        self._order.append((tenant, scope))
        while len(self._order) > self._max:
            oldest = self._order.pop(0)
            entries = self._scopes.get(oldest)
            if entries:
                entries.pop(0)
                if not entries:
                    del self._scopes[oldest]

    async def purge(self, tenant: str) -> int:  # noqa: D102
        doomed = [key for key in self._scopes if key[0] == tenant]
        count = sum(len(self._scopes.pop(key)) for key in doomed)
        self._order = [key for key in self._order if key[0] != tenant]
        return count


class PgVectorIndex:
    """PostgreSQL + pgvector: one table, an HNSW index on cosine distance, the tenant and scope as a
    hard filter, expiry by time and a size bound per tenant (trimmed now and then on insert)."""

    def __init__(self, url: str, max_entries: int = 10_000, pool_size: int = 4) -> None:
        self._url = url
        self._max = max_entries
        self._pool_size = pool_size
        self._pool: Any = None

    async def _connection(self) -> Any:
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415 - only with store pgvector

            pool = AsyncConnectionPool(
                self._url, min_size=1, max_size=self._pool_size, timeout=1.0, open=False,
                kwargs={"connect_timeout": 1, "autocommit": True}, configure=_create_schema,
            )  # fmt: skip
            await pool.open(wait=False)
            self._pool = pool
        return self._pool.connection()

    async def search(self, tenant: str, scope: str, vector: np.ndarray, limit: int = 5) -> list[Candidate]:  # noqa: D102
        literal = _vector(vector)
        try:
            async with await self._connection() as connection:
                rows = await (
                    await connection.execute(
                        f"SELECT prompt, entry, 1 - (embedding <=> %s::vector) FROM {TABLE} "
                        "WHERE tenant = %s AND scope = %s AND expires_at > now() "
                        "ORDER BY embedding <=> %s::vector LIMIT %s",
                        (literal, tenant, scope, literal, limit),
                    )
                ).fetchall()
        except Exception as exc:  # psycopg's and the pool's errors: the cache is optional
            log.warning("semantic cache index unavailable, answering without it: %s", type(exc).__name__)
            return []
        return [Candidate(float(similarity), prompt, Entry(**entry)) for prompt, entry, similarity in rows]

    async def add(self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int) -> None:  # noqa: D102
        try:
            async with await self._connection() as connection:
                await connection.execute(
                    f"INSERT INTO {TABLE} (tenant, scope, embedding, prompt, entry, expires_at) "
                    "VALUES (%s, %s, %s::vector, %s, %s::jsonb, now() + make_interval(secs => %s))",
                    (tenant, scope, _vector(vector), prompt, orjson.dumps(asdict(entry)).decode(), ttl_seconds),
                )
                if random.random() < 0.02:  # noqa: S311 - housekeeping now and then, not security
                    await connection.execute(f"DELETE FROM {TABLE} WHERE expires_at <= now()")
                    await connection.execute(
                        f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE tenant = %s "
                        "ORDER BY id DESC OFFSET %s)",
                        (tenant, self._max),
                    )
        except Exception as exc:
            log.warning("semantic cache index unavailable, answer not indexed: %s", type(exc).__name__)

    async def purge(self, tenant: str) -> int:  # noqa: D102
        async with await self._connection() as connection:
            cursor = await connection.execute(f"DELETE FROM {TABLE} WHERE tenant = %s", (tenant,))
            return cursor.rowcount


async def _create_schema(connection: Any) -> None:
    """The table and its indexes, on every new connection (cheap when they exist)."""
    import psycopg  # noqa: PLC0415

    statements = [
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, tenant text NOT NULL, scope text NOT NULL, "
        "embedding vector(384) NOT NULL, prompt text NOT NULL, entry jsonb NOT NULL, expires_at timestamptz NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_embedding ON {TABLE} USING hnsw (embedding vector_cosine_ops)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_scope ON {TABLE} (tenant, scope, expires_at)",
    ]
    for statement in statements:
        try:
            await connection.execute(statement)
        except psycopg.errors.UniqueViolation:
            pass  # another replica created it at the same moment


def _vector(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7f}" for x in vector.tolist()) + "]"
