"""Where prompt versions and labels live: one small protocol, and the in-process store for tests.

Every store makes the same promises (docs/adr/0009-where-prompts-are-stored.md):

- `add_version` is atomic: a version is stored whole or not at all, together
  with the labels the push moves, and two concurrent pushes never get the same
  number. Pushing a template equal to the latest version stores nothing and
  answers that version (so CI can push on every commit); its labels still move.
- `set_label` moves a label only to a version that exists, in one step.
- Versions never change once written, so readers may cache them for ever;
  heads (latest version and labels) change, so readers cache them briefly.
- A backend that cannot answer raises `extproc.stores.StoreUnavailable`.

Backends: `MemoryPromptStore` (here), `SqlitePromptStore` (the embedded
default: one file for every service process of a host), `RedisPromptStore`
and `PostgresPromptStore` (shared by replicas). `open_prompt_store` builds one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import orjson

from extproc.prompts.model import PromptHead, PromptTemplate, PromptVersion, canonical_json, template_from_document

STORE_KINDS = ("memory", "sqlite", "redis", "postgres")
# How many versions `versions()` lists at most (the most recent).
MAX_LISTED_VERSIONS = 1000


class PromptStore(Protocol):
    """What the resolver and the prompt API need from a store (see the module docstring)."""

    async def add_version(
        self, namespace: str, template: PromptTemplate, author: str | None, labels: Sequence[str] = ()
    ) -> tuple[PromptVersion, bool]:
        """Store `template` as the next version and point `labels` at it; (version, True if new)."""
        ...

    async def version(self, namespace: str, name: str, number: int) -> PromptVersion | None:
        """Version `number` of a prompt, or None."""
        ...

    async def versions(self, namespace: str, name: str) -> list[PromptVersion]:
        """A prompt's versions, oldest first (the most recent MAX_LISTED_VERSIONS)."""
        ...

    async def head(self, namespace: str, name: str) -> PromptHead | None:
        """A prompt's latest version and labels, read together; None if the namespace has no such prompt."""
        ...

    async def heads(self, namespace: str) -> list[PromptHead]:
        """Every prompt of a namespace, by name."""
        ...

    async def set_label(self, namespace: str, name: str, label: str, number: int) -> int | None:
        """Point `label` at version `number`; the version it pointed at before (0 if none). None: no such version."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version as the stores keep it: the template's canonical JSON and who made it when."""

    document: bytes
    digest: str
    created_at: float
    created_by: str | None

    @staticmethod
    def of(template: PromptTemplate, author: str | None, now: float | None = None) -> StoredVersion:
        """The stored form of a new version of `template`."""
        return StoredVersion(canonical_json(template.to_document()), template.digest, now or time.time(), author)

    def encode(self) -> bytes:
        """One JSON value (for stores that keep a version in one field)."""
        return orjson.dumps(
            {"document": orjson.Fragment(self.document), "digest": self.digest, "at": self.created_at, "by": self.created_by}
        )

    @staticmethod
    def decode(raw: bytes | str) -> StoredVersion:
        """The inverse of `encode`."""
        value = orjson.loads(raw)
        return StoredVersion(canonical_json(value["document"]), value["digest"], value["at"], value["by"])

    def version(self, namespace: str, number: int) -> PromptVersion:
        """The PromptVersion this stored row is."""
        return to_version(namespace, number, self.document, self.created_at, self.created_by)


def next_version(
    stored: StoredVersion, latest: int, previous: tuple[str, str, float, str | None] | None
) -> tuple[StoredVersion, int, bool]:
    """(the version kept, its number, whether it is new): the same document as the latest version is
    that version again, not a new one. `previous` is the latest's (document, digest, created_at, created_by)."""
    if previous is not None and previous[1] == stored.digest:
        return StoredVersion(previous[0].encode(), previous[1], previous[2], previous[3]), latest, False
    return stored, latest + 1, True


def to_version(namespace: str, number: int, document: bytes | str, created_at: float, created_by: str | None) -> PromptVersion:
    """A PromptVersion from a stored row (the document was validated before it was stored)."""
    return PromptVersion(namespace, number, template_from_document(orjson.loads(document)), created_at, created_by)


def head_of(namespace: str, name: str, latest: int, labels: dict[str, int]) -> PromptHead:
    """An immutable PromptHead."""
    return PromptHead(namespace, name, latest, MappingProxyType(dict(labels)))


class MemoryPromptStore:
    """Prompts in this process (tests, one-process demos); every operation is atomic on the event loop."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[StoredVersion]] = {}
        self._labels: dict[tuple[str, str], dict[str, int]] = {}

    async def add_version(  # noqa: D102
        self, namespace: str, template: PromptTemplate, author: str | None, labels: Sequence[str] = ()
    ) -> tuple[PromptVersion, bool]:
        key = (namespace, template.name)
        versions = self._versions.setdefault(key, [])
        stored = StoredVersion.of(template, author)
        created = not versions or versions[-1].digest != stored.digest
        if created:
            versions.append(stored)
        number = len(versions)
        self._labels.setdefault(key, {}).update({label: number for label in labels})
        return versions[-1].version(namespace, number), created

    async def version(self, namespace: str, name: str, number: int) -> PromptVersion | None:  # noqa: D102
        versions = self._versions.get((namespace, name), [])
        return versions[number - 1].version(namespace, number) if 1 <= number <= len(versions) else None

    async def versions(self, namespace: str, name: str) -> list[PromptVersion]:  # noqa: D102
        versions = self._versions.get((namespace, name), [])
        first = max(len(versions) - MAX_LISTED_VERSIONS, 0)
        return [stored.version(namespace, i + 1) for i, stored in enumerate(versions) if i >= first]

    async def head(self, namespace: str, name: str) -> PromptHead | None:  # noqa: D102
        versions = self._versions.get((namespace, name))
        return head_of(namespace, name, len(versions), self._labels.get((namespace, name), {})) if versions else None

    async def heads(self, namespace: str) -> list[PromptHead]:  # noqa: D102
        names = sorted(name for ns, name in self._versions if ns == namespace)
        return [head for name in names if (head := await self.head(namespace, name)) is not None]

    async def set_label(self, namespace: str, name: str, label: str, number: int) -> int | None:  # noqa: D102
        if not 1 <= number <= len(self._versions.get((namespace, name), [])):
            return None
        labels = self._labels.setdefault((namespace, name), {})
        previous = labels.get(label, 0)
        labels[label] = number
        return previous

    async def close(self) -> None:  # noqa: D102
        return None


def open_prompt_store(
    kind: str, *, sqlite_path: str | None = None, redis_url: str | None = None, postgres_url: str | None = None, **options: Any
) -> PromptStore:
    """The store of `kind` (memory, sqlite, redis or postgres); ValueError naming what is missing."""
    if kind == "memory":
        return MemoryPromptStore()
    if kind == "sqlite":
        if not sqlite_path:
            raise ValueError("prompts store sqlite needs a path")
        from extproc.prompts.sqlite import SqlitePromptStore  # noqa: PLC0415 - each backend loads only when chosen

        return SqlitePromptStore(sqlite_path, **options)
    if kind == "redis":
        if not redis_url:
            raise ValueError("prompts store redis needs a redis_url")
        from extproc.prompts.redis import RedisPromptStore  # noqa: PLC0415

        return RedisPromptStore(redis_url, **options)
    if kind == "postgres":
        if not postgres_url:
            raise ValueError("prompts store postgres needs a postgres_url")
        from extproc.prompts.postgres import PostgresPromptStore  # noqa: PLC0415

        return PostgresPromptStore(postgres_url, **options)
    raise ValueError(f"prompts store kind {kind!r} is not one of {', '.join(STORE_KINDS)}")
