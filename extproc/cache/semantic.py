"""The semantic cache's index: earlier prompts' embeddings, searched within one tenant and scope.

A scope is everything about a request except its last user message (route,
system prompt, earlier turns, every output-changing parameter), hashed: two
requests are compared by meaning only when all of that is equal, and never
across tenants (the tenant is a hard filter in both indexes). Each entry keeps
its prompt text, for the guards (`guards.py`) to compare with the new one, and
the labels its explorations earned (`learned.py`); each tenant's route keeps the
calibration that all its labels add up to.

Two indexes: this process's own (numpy, bounded, TTL) and PostgreSQL with
pgvector (an HNSW index, shared by every replica; labels and calibration are
updated in place by single statements, so replicas never lose each other's).
One that fails is a miss, and a label it cannot keep is lost, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from extproc.cache.keys import OUTPUT_NEUTRAL, normalised_message
from extproc.cache.learned import BINS, MAX_LABELS, Calibration, Label
from extproc.cache.store import Entry

log = logging.getLogger(__name__)
TABLE = "llm_gateway_semantic_cache"
CALIBRATION_TABLE = "llm_gateway_semantic_cache_calibration"


@dataclass(slots=True)
class Candidate:
    """A stored answer near the new prompt, with its key in the index and its labels."""

    similarity: float
    prompt: str
    entry: Entry
    key: str = ""
    labels: list[Label] = field(default_factory=list)


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

    async def add(
        self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int,
        labels: Sequence[Label] = (),
    ) -> None:
        """Keep one entry for `ttl_seconds`, with the labels it starts with."""
        ...

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant` (with its labels; the calibration stays); how many there were."""
        ...

    async def label(self, tenant: str, key: str, label: Label) -> None:
        """Add a label to one entry (its latest MAX_LABELS are kept)."""
        ...

    async def calibration(self, tenant: str, route: str) -> Calibration:
        """The calibration of a tenant's route (empty when it has no labels yet)."""
        ...

    async def calibrate(self, tenant: str, route: str, label: Label) -> None:
        """Count one label in a tenant's route calibration."""
        ...


@dataclass(slots=True)
class _Stored:
    vector: np.ndarray
    prompt: str
    entry: Entry
    expires: float
    key: str
    labels: list[Label] = field(default_factory=list)


class MemoryIndex:
    """This process's index: a list per (tenant, scope), at most `max_entries` in all (oldest go first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._scopes: dict[tuple[str, str], list[_Stored]] = {}
        self._order: list[tuple[str, str]] = []  # the scope of each entry, oldest first
        self._by_key: dict[str, _Stored] = {}
        self._keys = itertools.count(1)
        # By (tenant, route): bounded by configuration, like the metrics' labels.
        self._calibrations: dict[tuple[str, str], Calibration] = {}

    async def search(self, tenant: str, scope: str, vector: np.ndarray, limit: int = 5) -> list[Candidate]:  # noqa: D102
        now = time.monotonic()
        stored = [s for s in self._scopes.get((tenant, scope), ()) if s.expires > now]
        if not stored:
            return []
        similarities = np.stack([s.vector for s in stored]) @ vector
        best = np.argsort(-similarities)[:limit]
        return [
            Candidate(float(similarities[i]), stored[i].prompt, stored[i].entry, stored[i].key, list(stored[i].labels))
            for i in best
        ]

    async def add(  # noqa: D102
        self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int,
        labels: Sequence[Label] = (),
    ) -> None:
        key = f"{tenant}:{next(self._keys)}"
        stored = _Stored(vector, prompt, entry, time.monotonic() + ttl_seconds, key, list(labels)[-MAX_LABELS:])
        self._scopes.setdefault((tenant, scope), []).append(stored)
        self._by_key[stored.key] = stored
        self._order.append((tenant, scope))
        while len(self._order) > self._max:
            oldest = self._order.pop(0)
            entries = self._scopes.get(oldest)
            if entries:
                self._by_key.pop(entries.pop(0).key, None)
                if not entries:
                    del self._scopes[oldest]

    async def purge(self, tenant: str) -> int:  # noqa: D102
        doomed = [key for key in self._scopes if key[0] == tenant]
        gone = [stored for key in doomed for stored in self._scopes.pop(key)]
        for stored in gone:
            self._by_key.pop(stored.key, None)
        self._order = [key for key in self._order if key[0] != tenant]
        return len(gone)

    async def label(self, tenant: str, key: str, label: Label) -> None:  # noqa: D102
        stored = self._by_key.get(key)
        if stored is not None and key.startswith(f"{tenant}:"):
            stored.labels = [*stored.labels, label][-MAX_LABELS:]

    async def calibration(self, tenant: str, route: str) -> Calibration:  # noqa: D102
        found = self._calibrations.get((tenant, route))
        return Calibration(found.right, found.wrong) if found is not None else Calibration()

    async def calibrate(self, tenant: str, route: str, label: Label) -> None:  # noqa: D102
        self._calibrations.setdefault((tenant, route), Calibration()).add(label)


class PgVectorIndex:
    """PostgreSQL + pgvector: the entries' table (an HNSW index on cosine distance, the tenant and
    scope as a hard filter, expiry by time, a size bound per tenant trimmed now and then on insert,
    each entry's labels in a JSON column) and the calibration table (counts per tenant, route and
    similarity bin)."""

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
                        f"SELECT id, prompt, entry, labels, 1 - (embedding <=> %s::vector) FROM {TABLE} "
                        "WHERE tenant = %s AND scope = %s AND expires_at > now() "
                        "ORDER BY embedding <=> %s::vector LIMIT %s",
                        (literal, tenant, scope, literal, limit),
                    )
                ).fetchall()
        except Exception as exc:  # psycopg's and the pool's errors: the cache is optional
            log.warning("semantic cache index unavailable, answering without it: %s", type(exc).__name__)
            return []
        return [
            Candidate(float(similarity), prompt, Entry(**entry), str(key), [Label(float(s), bool(r)) for s, r in labels])
            for key, prompt, entry, labels, similarity in rows
        ]

    async def add(  # noqa: D102
        self, tenant: str, scope: str, vector: np.ndarray, prompt: str, entry: Entry, ttl_seconds: int,
        labels: Sequence[Label] = (),
    ) -> None:
        try:
            async with await self._connection() as connection:
                await connection.execute(
                    f"INSERT INTO {TABLE} (tenant, scope, embedding, prompt, entry, expires_at, labels) "
                    "VALUES (%s, %s, %s::vector, %s, %s::jsonb, now() + make_interval(secs => %s), %s::jsonb)",
                    (tenant, scope, _vector(vector), prompt, orjson.dumps(asdict(entry)).decode(), ttl_seconds,
                     _labels(list(labels)[-MAX_LABELS:])),
                )  # fmt: skip
                if random.random() < 0.02:  # housekeeping now and then, not security
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

    async def label(self, tenant: str, key: str, label: Label) -> None:  # noqa: D102
        # One statement: the row's lock orders concurrent labels from every replica.
        pair = _labels([label])
        await self._write(
            f"UPDATE {TABLE} SET labels = (CASE WHEN jsonb_array_length(labels) >= %s THEN labels - 0 "
            "ELSE labels END) || %s::jsonb WHERE id = %s AND tenant = %s",
            (MAX_LABELS, pair, int(key), tenant),
        )

    async def calibration(self, tenant: str, route: str) -> Calibration:  # noqa: D102
        calibration = Calibration()
        try:
            async with await self._connection() as connection:
                rows = await (
                    await connection.execute(
                        f"SELECT bin, right_count, wrong_count FROM {CALIBRATION_TABLE} WHERE tenant = %s AND route = %s",
                        (tenant, route),
                    )
                ).fetchall()
        except Exception as exc:
            log.warning("semantic cache calibration unavailable: %s", type(exc).__name__)
            return calibration
        for index, right, wrong in rows:
            if 0 <= index < BINS:
                calibration.right[index], calibration.wrong[index] = int(right), int(wrong)
        return calibration

    async def calibrate(self, tenant: str, route: str, label: Label) -> None:  # noqa: D102
        right, wrong = (1, 0) if label.right else (0, 1)
        await self._write(
            f"INSERT INTO {CALIBRATION_TABLE} AS c (tenant, route, bin, right_count, wrong_count) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, route, bin) DO UPDATE SET "
            "right_count = c.right_count + excluded.right_count, wrong_count = c.wrong_count + excluded.wrong_count",
            (tenant, route, Calibration.bin(label.similarity), right, wrong),
        )

    async def _write(self, statement: str, parameters: tuple[Any, ...]) -> None:
        try:
            async with await self._connection() as connection:
                await connection.execute(statement, parameters)
        except Exception as exc:
            log.warning("semantic cache index unavailable, label not kept: %s", type(exc).__name__)


async def _create_schema(connection: Any) -> None:
    """The table and its indexes, on every new connection (cheap when they exist)."""
    import psycopg  # noqa: PLC0415

    statements = [
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, tenant text NOT NULL, scope text NOT NULL, "
        "embedding vector(384) NOT NULL, prompt text NOT NULL, entry jsonb NOT NULL, expires_at timestamptz NOT NULL, "
        "labels jsonb NOT NULL DEFAULT '[]'::jsonb)",
        # Tables made before the learned cache: (similarity, right) pairs from explorations.
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS labels jsonb NOT NULL DEFAULT '[]'::jsonb",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_embedding ON {TABLE} USING hnsw (embedding vector_cosine_ops)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_scope ON {TABLE} (tenant, scope, expires_at)",
        f"CREATE TABLE IF NOT EXISTS {CALIBRATION_TABLE} (tenant text NOT NULL, route text NOT NULL, bin int NOT NULL, "
        "right_count bigint NOT NULL DEFAULT 0, wrong_count bigint NOT NULL DEFAULT 0, PRIMARY KEY (tenant, route, bin))",
    ]
    for statement in statements:
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # another replica created it at the same moment
            await connection.execute(statement)


def _labels(labels: Sequence[Label]) -> str:
    """Labels as the JSON column holds them: [[similarity, right], ...]."""
    return orjson.dumps([[round(label.similarity, 4), label.right] for label in labels]).decode()


def _vector(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7f}" for x in vector.tolist()) + "]"
