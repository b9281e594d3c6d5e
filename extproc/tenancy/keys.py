"""API keys: issued once, stored only as hashes, each belonging to one tenant.

A key is `sk-gw-` and 43 URL-safe random characters (256 bits). The store
keeps its SHA-256: a key that random needs no slow hash, and a lookup is one
digest and one dictionary read. The record also keeps the key's first
characters (`sk-gw-AbCd`), so that a person can tell keys apart in
`llm-gateway keys list` without the store ever holding a usable key.

A key may be an admin key (`keys create --admin`): it still belongs to a
tenant, and it may also read the operators' endpoints (`GET /metrics`).

Two stores: a JSON file (the embedded default, shared by the processes of one
host) and Redis (shared by every replica). Both are read through `KeyStore`,
and both raise `StoreUnavailable` when they cannot answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from extproc.errors import StoreUnavailable
from extproc.stores import store_call

KEY_PREFIX = "sk-gw-"
_SHOWN_CHARS = len(KEY_PREFIX) + 4
_REDIS_KEYS = "llm_gateway:keys"
# The documented bound: a revoked key stops working within this many seconds, store outage or not.
REVOCATION_SECONDS = 5.0


class KeyStoreError(ValueError):
    """A key operation that cannot be done (unknown id, bad tenant name)."""


@dataclass(slots=True, frozen=True)
class KeyRecord:
    """What the store knows about one key: never the key itself."""

    id: str
    tenant: str
    digest: str
    shown: str
    name: str = ""
    created: float = 0.0
    revoked: float | None = None
    # May read the operators' endpoints (every tenant's figures), besides its tenant's models.
    admin: bool = False

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked is None


def generate_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_record(key: str, tenant: str, name: str = "", admin: bool = False) -> KeyRecord:
    """The record for a key about to be stored."""
    if not tenant or len(tenant) > 64 or not all(c.isalnum() or c in "-_." for c in tenant):
        raise KeyStoreError("a tenant name is 1-64 letters, digits, '-', '_' or '.'")
    return KeyRecord(
        id="key_" + secrets.token_hex(6),
        tenant=tenant,
        digest=digest(key),
        shown=key[:_SHOWN_CHARS] + "...",
        name=name,
        created=time.time(),
        admin=admin,
    )


class KeyStore(Protocol):
    """Where key records live."""

    async def find(self, key_digest: str) -> KeyRecord | None:
        """The record of the key with this digest, revoked or not; StoreUnavailable when unknown."""
        ...

    async def add(self, record: KeyRecord) -> None:
        """Store a new record."""
        ...

    async def records(self) -> list[KeyRecord]:
        """Every record, oldest first."""
        ...

    async def revoke(self, key_id: str) -> KeyRecord:
        """Mark a key revoked; KeyStoreError when no key has this id."""
        ...


class FileKeyStore:
    """Key records in one JSON file, re-read when it changes (keys made while the gateway runs work at once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_digest: dict[str, KeyRecord] = {}
        self._stamp: tuple[int, int] | None = None

    async def find(self, key_digest: str) -> KeyRecord | None:
        """A dictionary read, after a stat of the file."""
        self._reload_if_changed()
        return self._by_digest.get(key_digest)

    async def add(self, record: KeyRecord) -> None:
        """Append and write the file atomically."""
        records = self._read()
        records.append(record)
        self._write(records)

    async def records(self) -> list[KeyRecord]:
        """Every record in the file."""
        return self._read()

    async def revoke(self, key_id: str) -> KeyRecord:
        """Rewrite the file with the key marked revoked."""
        records = self._read()
        for index, record in enumerate(records):
            if record.id == key_id:
                if record.revoked is None:
                    records[index] = _replace(record, revoked=time.time())
                    self._write(records)
                return records[index]
        raise KeyStoreError(f"no key has the id {key_id!r}")

    def _reload_if_changed(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._by_digest, self._stamp = {}, None
            return
        except OSError as exc:
            raise StoreUnavailable(f"key file {self.path}: {type(exc).__name__}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._by_digest = {record.digest: record for record in self._read()}
            self._stamp = stamp

    def _read(self) -> list[KeyRecord]:
        with store_call(f"key file {self.path}"):
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return []
            return [record_from(entry) for entry in json.loads(text).get("keys", [])]

    def _write(self, records: list[KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"keys": [asdict(record) for record in records]}
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
        os.chmod(temporary, 0o600)  # hashes only, but nobody else needs to read them
        os.replace(temporary, self.path)


class RedisKeyStore:
    """Key records in one Redis hash (digest -> JSON), shared by every replica.

    A lookup is remembered for `fresh_seconds`; after that Redis is asked again. When
    Redis cannot answer, a remembered record is used until it is `stale_seconds` old,
    and then the key's state counts as unknown (StoreUnavailable: the caller refuses
    with a 503). So a revocation reaches every replica within `stale_seconds`, outage
    or not, and a short outage does not lock out keys seen just before it.
    """

    def __init__(self, client: Any, fresh_seconds: float = 2.0, stale_seconds: float = REVOCATION_SECONDS) -> None:
        self._redis = client
        self._fresh_seconds = fresh_seconds
        self._stale_seconds = max(stale_seconds, fresh_seconds)
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    async def find(self, key_digest: str) -> KeyRecord | None:
        """From the local cache while fresh, else one HGET (or the cache, within the stale bound, if Redis fails)."""
        now = time.monotonic()
        cached = self._cache.get(key_digest)
        if cached is not None and now - cached[0] < self._fresh_seconds:
            return cached[1]
        try:
            with store_call("redis keys"):
                raw = await self._redis.hget(_REDIS_KEYS, key_digest)
        except StoreUnavailable:
            if cached is not None and time.monotonic() - cached[0] < self._stale_seconds:
                return cached[1]
            raise
        record = _record(raw) if raw else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_digest] = (now, record)
        return record

    async def add(self, record: KeyRecord) -> None:
        """One HSET."""
        with store_call("redis keys"):
            await self._redis.hset(_REDIS_KEYS, record.digest, json.dumps(asdict(record)))

    async def records(self) -> list[KeyRecord]:
        """Every record, oldest first."""
        with store_call("redis keys"):
            raw = await self._redis.hgetall(_REDIS_KEYS)
            return sorted((_record(v) for v in raw.values()), key=lambda r: r.created)

    async def revoke(self, key_id: str) -> KeyRecord:
        """Rewrite the record with `revoked` set."""
        for record in await self.records():
            if record.id == key_id:
                if record.revoked is None:
                    record = _replace(record, revoked=time.time())
                    await self.add(record)
                return record
        raise KeyStoreError(f"no key has the id {key_id!r}")


def _record(raw: str) -> KeyRecord:
    with store_call("redis keys"):
        return record_from(json.loads(raw))


def record_from(entry: dict[str, Any]) -> KeyRecord:
    """A stored record; fields a newer version added are ignored, a missing one is a ValueError."""
    try:
        return KeyRecord(**{name: value for name, value in entry.items() if name in _RECORD_FIELDS})
    except TypeError as exc:
        raise ValueError(f"a key record is incomplete: {exc}") from None


def _replace(record: KeyRecord, **changes: Any) -> KeyRecord:
    return KeyRecord(**{**asdict(record), **changes})


_RECORD_FIELDS = frozenset(field.name for field in fields(KeyRecord))

