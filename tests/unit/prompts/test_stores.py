"""Every prompt store keeps the same promises: atomic pushes, numbers never reused, labels only on versions
that exist, StoreUnavailable when the backend fails. Redis and PostgreSQL are real servers."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from extproc import stores
from extproc.errors import StoreUnavailable
from extproc.prompts.files import validate_document
from extproc.prompts.model import GLOBAL, PromptTemplate
from extproc.prompts.postgres import PostgresPromptStore
from extproc.prompts.redis import RedisPromptStore
from extproc.prompts.sqlite import SqlitePromptStore
from extproc.prompts.store import MemoryPromptStore, PromptStore, open_prompt_store
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server

KINDS = ["memory", "sqlite", "redis", "postgres"]


def template(text: str, name: str = "greet") -> PromptTemplate:
    return validate_document({"name": name, "messages": [{"role": "user", "content": text}]})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as (url, _):
        yield url


def open_kind(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> PromptStore:
    if kind == "redis":
        return open_prompt_store("redis", redis_url=request.getfixturevalue("redis_url"))
    if kind == "postgres":
        return open_prompt_store("postgres", postgres_url=request.getfixturevalue("postgres_url"))
    return open_prompt_store(kind, sqlite_path=str(tmp_path / "prompts.sqlite3"))


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PromptStore]:
    opened = open_kind(request.param, request, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture()
def namespace() -> str:
    """A namespace of its own per test: the shared servers live for the whole module."""
    return f"t{uuid.uuid4().hex[:10]}"


async def test_versions_are_numbered_and_kept_whole(store: PromptStore, namespace: str) -> None:
    first, created_first = await store.add_version(namespace, template("Hello {{ who }}"), "key1", ["production"])
    second, created_second = await store.add_version(namespace, template("Hi {{ who }}!"), "key2", ["staging"])
    assert (first.number, created_first, second.number, created_second) == (1, True, 2, True)
    again = await store.version(namespace, "greet", 1)
    assert again is not None and again.template == first.template and again.created_by == "key1"
    assert again.template.messages[0].content == "Hello {{ who }}"
    head = await store.head(namespace, "greet")
    assert head is not None and head.latest == 2 and dict(head.labels) == {"production": 1, "staging": 2}
    assert [v.number for v in await store.versions(namespace, "greet")] == [1, 2]
    assert await store.version(namespace, "greet", 3) is None


async def test_pushing_the_latest_content_again_stores_nothing_but_moves_labels(store: PromptStore, namespace: str) -> None:
    await store.add_version(namespace, template("Hello {{ who }}"), "key1")
    same, created = await store.add_version(namespace, template("Hello {{ who }}"), "key2", ["production"])
    assert (same.number, created, same.created_by) == (1, False, "key1")
    head = await store.head(namespace, "greet")
    assert head is not None and head.latest == 1 and dict(head.labels) == {"production": 1}


async def test_a_label_moves_only_to_a_version_that_exists(store: PromptStore, namespace: str) -> None:
    await store.add_version(namespace, template("one"), None, ["production"])
    await store.add_version(namespace, template("two"), None)
    assert await store.set_label(namespace, "greet", "production", 2) == 1
    assert await store.set_label(namespace, "greet", "canary", 2) == 0
    assert await store.set_label(namespace, "greet", "production", 7) is None
    assert await store.set_label(namespace, "missing", "production", 1) is None
    head = await store.head(namespace, "greet")
    assert head is not None and dict(head.labels) == {"production": 2, "canary": 2}


async def test_namespaces_are_apart(store: PromptStore, namespace: str) -> None:
    other = namespace + "x"
    await store.add_version(namespace, template("mine", "a"), None)
    await store.add_version(namespace, template("mine too", "b"), None)
    await store.add_version(other, template("theirs", "a"), None)
    assert [h.name for h in await store.heads(namespace)] == ["a", "b"]
    assert [h.name for h in await store.heads(other)] == ["a"]
    assert await store.head(namespace + "y", "a") is None
    theirs = await store.version(other, "a", 1)
    assert theirs is not None and theirs.template.messages[0].content == "theirs"


async def test_the_global_namespace_is_one_like_the_others(store: PromptStore) -> None:
    name = f"g{uuid.uuid4().hex[:8]}"
    await store.add_version(GLOBAL, template("shared", name), None)
    assert any(h.name == name for h in await store.heads(GLOBAL))


async def test_concurrent_pushes_never_share_a_number(store: PromptStore, namespace: str) -> None:
    results = await asyncio.gather(*(store.add_version(namespace, template(f"variant {i}"), f"k{i}") for i in range(40)))
    numbers = sorted(version.number for version, _ in results)
    assert numbers == list(range(1, 41))
    for version, created in results:
        stored = await store.version(namespace, "greet", version.number)
        assert created and stored is not None and stored.template == version.template


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_two_clients_pushing_at_once_get_consecutive_numbers(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, namespace: str
) -> None:
    """Two replicas (two clients with their own connections) push 30 versions each, interleaved."""
    stores = [open_kind(kind, request, tmp_path) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(stores[i % 2].add_version(namespace, template(f"replica {i % 2} push {i}"), None) for i in range(60))
        )
        assert sorted(v.number for v, _ in results) == list(range(1, 61))
        for version, _ in results:
            stored = await stores[0].version(namespace, "greet", version.number)
            assert stored is not None and stored.template.messages[0].content == version.template.messages[0].content
    finally:
        for opened in stores:
            await opened.close()


# One "service process": once told to go, 150 pushes of distinct content; prints the numbers it got.
_SQLITE_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from extproc.prompts.files import validate_document
    from extproc.prompts.sqlite import SqlitePromptStore

    async def main() -> None:
        store = SqlitePromptStore(sys.argv[1])
        tag = sys.argv[2]
        await store.head("acme", "greet")  # opened, schema made
        print("ready", flush=True)
        sys.stdin.readline()
        numbers = []
        for i in range(150):
            doc = {"name": "greet", "messages": [{"role": "user", "content": f"{tag} {i}"}]}
            version, _ = await store.add_version("acme", validate_document(doc), tag)
            numbers.append(version.number)
        print(" ".join(map(str, numbers)))
        await store.close()

    asyncio.run(main())
    """
)


async def test_two_processes_on_one_sqlite_file_never_reuse_a_number(tmp_path: Path) -> None:
    path = tmp_path / "prompts.sqlite3"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _SQLITE_WORKER, str(path), tag], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for tag in ("left", "right")
    ]
    for worker in workers:  # both started before either pushes, so their transactions interleave
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    numbers = sorted(int(n) for output in outputs for n in output.split())
    assert numbers == list(range(1, 301))
    store = SqlitePromptStore(path)
    versions = await store.versions("acme", "greet")
    assert len(versions) == 300 and {v.created_by for v in versions} == {"left", "right"}
    for version in versions:  # each version's content is its own writer's
        assert version.template.messages[0].content.split()[0] == version.created_by
    await store.close()


async def test_a_push_that_fails_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlitePromptStore(tmp_path / "prompts.sqlite3")
    await store.add_version("acme", template("one"), None, ["production"])
    original = SqlitePromptStore._add

    def fail_after_writing(db: sqlite3.Connection, *args: object) -> object:
        original(db, *args)
        raise sqlite3.OperationalError("disk I/O error")  # as if the disk failed before the commit

    monkeypatch.setattr(SqlitePromptStore, "_add", staticmethod(fail_after_writing))
    with pytest.raises(StoreUnavailable):
        await store.add_version("acme", template("two"), None, ["production"])
    monkeypatch.undo()
    head = await store.head("acme", "greet")
    assert head is not None and head.latest == 1 and dict(head.labels) == {"production": 1}
    assert await store.version("acme", "greet", 2) is None
    await store.close()


async def test_a_locked_sqlite_database_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stores, "SQLITE_BUSY_TIMEOUT_S", 0.1)
    path = tmp_path / "prompts.sqlite3"
    store = SqlitePromptStore(path)
    await store.head("acme", "greet")  # creates the database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process stuck in a write
    with pytest.raises(StoreUnavailable):
        await store.add_version("acme", template("one"), None)
    holder.execute("ROLLBACK")
    holder.close()
    await store.close()


async def test_redis_down_is_unavailable(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        store = RedisPromptStore(url)
        await store.add_version("acme", template("one"), None)
    with pytest.raises(StoreUnavailable):  # the server is gone
        await store.head("acme", "greet")
    await store.close()


async def test_postgres_unreachable_is_unavailable(tmp_path: Path) -> None:
    store = PostgresPromptStore(f"postgresql:///prompts?host={tmp_path}", timeout_seconds=0.5)  # no server there
    with pytest.raises(StoreUnavailable) as raised:
        await store.head("acme", "greet")
    assert str(tmp_path) not in str(raised.value)  # no connection string in the message
    await store.close()


def test_open_prompt_store_names_what_is_missing() -> None:
    assert isinstance(open_prompt_store("memory"), MemoryPromptStore)
    for kind, missing in (("sqlite", "path"), ("redis", "redis_url"), ("postgres", "postgres_url"), ("file", "one of")):
        with pytest.raises(ValueError, match=missing):
            open_prompt_store(kind)
