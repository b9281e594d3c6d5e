"""Conversations that reached a complex request, remembered so that their follow-ups stay on its model.

An agent's "ok, do it" after a design discussion is a simple-looking turn in a complex
conversation. The routing stage remembers each conversation whose request was classified complex,
for the policy's `ttl_seconds` after its last request, and a later turn of it is served at least
as complex. A conversation is named by the policy's header (a thread id), else the body's `user`,
else a digest of its opening (system prompt and first user turn, which every later request of it
repeats); the stores keep a digest of tenant, policy and that name, never text.

Where the state lives follows `store.kind`, like the limits: this process (memory, bounded LRU),
the host's SQLite file (sqlite: every service process of the host), or Redis (every replica).
A store that fails raises StoreUnavailable; the stage then routes on the classifier alone.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from extproc.stores import SqliteDatabase, store_call

PREFIX = "llm_gateway:conv:"
# The in-process store forgets the least recently used conversations beyond this many.
DEFAULT_MAX_ENTRIES = 100_000
# How many characters of the opening messages name a conversation that has no id.
_OPENING_CHARS = 2000
_SWEEP_EVERY_S = 60.0


class ConversationStore(Protocol):
    """Which conversations reached a complex request, until they go quiet for their time to live."""

    async def recall(self, key: str, ttl_seconds: int) -> bool:
        """True when the conversation reached complex and has not expired; its expiry restarts."""
        ...

    async def remember(self, key: str, ttl_seconds: int) -> None:
        """The conversation reached complex: keep that for `ttl_seconds` after now."""
        ...


def conversation_key(
    tenant: str, policy: str, header: str | None, headers: Mapping[str, str], user: str | None, messages: Sequence[Any]
) -> str:
    """The store key of a request's conversation (a digest: no text, no id, reaches the store)."""
    named = headers.get(header) if header else None
    if named:
        source = f"header\x00{named}"
    elif user:
        source = f"user\x00{user}"
    else:
        source = "opening\x00" + _opening(messages)
    digest = hashlib.blake2b(f"{tenant}\x00{policy}\x00{source}".encode(), digest_size=16).hexdigest()
    return PREFIX + digest


def _opening(messages: Sequence[Any]) -> str:
    """The system prompt and the first user turn, as they are repeated by every later request."""
    opening = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        opening.append(message)
        if message.get("role") == "user":
            break
    return orjson.dumps(opening).decode()[:_OPENING_CHARS]


class MemoryConversations:
    """This process's conversations, at most `max_entries` (the least recently used go first)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def recall(self, key: str, ttl_seconds: int) -> bool:
        """True when the conversation reached complex and has not expired; its expiry restarts."""
        expires = self._entries.get(key)
        now = self._clock()
        if expires is None or expires <= now:
            self._entries.pop(key, None)
            return False
        self._entries[key] = now + ttl_seconds
        self._entries.move_to_end(key)
        return True

    async def remember(self, key: str, ttl_seconds: int) -> None:
        """The conversation reached complex: keep that for `ttl_seconds` after now."""
        self._entries[key] = self._clock() + ttl_seconds
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_by_expiry ON conversations (expires);
"""


class SqliteConversations:
    """The host's conversations in an SQLite file (WAL), shared by its service processes; one thread
    of its own per process owns the connection, as for the limits (`tenancy/limits/sqlite.py`)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._db = SqliteDatabase(self.path, _SCHEMA, "sqlite conversations", before_commit=self._maybe_sweep)
        self._swept = 0.0

    async def recall(self, key: str, ttl_seconds: int) -> bool:
        """True when the conversation reached complex and has not expired; its expiry restarts."""
        def touch(db: Any) -> bool:
            now = self._clock()
            cursor = db.execute(
                "UPDATE conversations SET expires = ? WHERE key = ? AND expires > ?", (now + ttl_seconds, key, now)
            )
            return bool(cursor.rowcount)

        return await self._db.run(touch)

    async def remember(self, key: str, ttl_seconds: int) -> None:
        """The conversation reached complex: keep that for `ttl_seconds` after now."""
        def keep(db: Any) -> None:
            db.execute("INSERT OR REPLACE INTO conversations (key, expires) VALUES (?, ?)", (key, self._clock() + ttl_seconds))

        await self._db.run(keep)

    def close(self) -> None:
        """Close the connection and stop the thread (tests)."""
        self._db.close()

    def _maybe_sweep(self, db: Any) -> None:
        now = self._clock()
        if now - self._swept > _SWEEP_EVERY_S:
            db.execute("DELETE FROM conversations WHERE expires <= ?", (now,))
            self._swept = now


class RedisConversations:
    """Every replica's conversations in Redis: one key each, expiring on its own."""

    def __init__(self, client: Any) -> None:
        self._redis = client

    async def recall(self, key: str, ttl_seconds: int) -> bool:
        """True when the conversation reached complex and has not expired; its expiry restarts."""
        # EXPIRE answers 1 only for a key that exists: the check and the new expiry in one command.
        with store_call("redis conversations"):
            return bool(await self._redis.expire(key, ttl_seconds))

    async def remember(self, key: str, ttl_seconds: int) -> None:
        """The conversation reached complex: keep that for `ttl_seconds` after now."""
        with store_call("redis conversations"):
            await self._redis.set(key, "complex", ex=ttl_seconds)
