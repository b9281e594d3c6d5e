"""The semantic index (in process and in a real PostgreSQL with pgvector) and the semantic cache
through the router processor: paraphrases hit, near misses and other tenants never do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import orjson
import pytest
import yaml

from extproc.cache.embeddings import Embedder
from extproc.cache.policy import DEFAULT_THRESHOLD, CachePolicies, CachePolicy
from extproc.cache.semantic import MemoryIndex, PgVectorIndex, SemanticIndex, last_user_text, scope_key
from extproc.cache.store import Entry
from extproc.config import DEFAULT_CONFIG, build_gateway
from extproc.credentials import Credentials
from extproc.decisions import Changes, Reply
from extproc.processor import Gateway, RouterProcessor
from extproc.redaction.policy import PrivacyPolicies
from extproc.settings import Settings
from tests.postgres_server import postgres_server

EMBEDDER = Embedder()


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def entry(text: str) -> Entry:
    return Entry({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]},
                 1.0, "gpt-4o-mini", "openai")  # fmt: skip


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as (url, _):
        yield url


@pytest.fixture(params=["memory", "pgvector"])
async def index(request: pytest.FixtureRequest) -> AsyncIterator[SemanticIndex]:
    if request.param == "memory":
        yield MemoryIndex(max_entries=100)
        return
    pg = PgVectorIndex(request.getfixturevalue("postgres_url"))
    for tenant in ("acme", "globex"):
        await pg.purge(tenant)
    yield pg
    await pg._pool.close()


async def test_the_nearest_entry_of_the_tenant_and_scope_comes_first(index: SemanticIndex) -> None:
    await index.add("acme", "s1", unit(1, 0), "first", entry("a"), 60)
    await index.add("acme", "s1", unit(1, 1), "second", entry("b"), 60)
    await index.add("acme", "s2", unit(1, 0.01), "other scope", entry("c"), 60)
    await index.add("globex", "s1", unit(1, 0.01), "other tenant", entry("d"), 60)
    found = await index.search("acme", "s1", unit(1, 0.1))
    assert [c.prompt for c in found] == ["first", "second"]
    assert found[0].similarity == pytest.approx(float(unit(1, 0) @ unit(1, 0.1)), abs=1e-4)
    assert found[0].entry == entry("a")


async def test_expired_entries_are_not_found_and_purge_is_per_tenant(index: SemanticIndex) -> None:
    await index.add("acme", "s", unit(1), "short-lived", entry("a"), 1)
    await index.add("globex", "s", unit(1), "kept", entry("b"), 60)
    await asyncio.sleep(1.2)
    assert await index.search("acme", "s", unit(1)) == []
    await index.add("acme", "s", unit(1), "again", entry("a"), 60)
    assert await index.purge("acme") >= 1
    assert await index.search("acme", "s", unit(1)) == []
    assert [c.prompt for c in await index.search("globex", "s", unit(1))] == ["kept"]


async def test_the_memory_index_is_bounded() -> None:
    index = MemoryIndex(max_entries=3)
    for n in range(5):
        await index.add("acme", "s", unit(1, n), f"p{n}", entry("x"), 60)
    assert sorted(c.prompt for c in await index.search("acme", "s", unit(1), limit=10)) == ["p2", "p3", "p4"]


async def test_an_unreachable_postgres_is_a_miss() -> None:
    pg = PgVectorIndex("postgresql://postgres@127.0.0.1:1/postgres")
    assert await pg.search("acme", "s", unit(1)) == []
    await pg.add("acme", "s", unit(1), "p", entry("x"), 60)  # logged, not raised
    await pg._pool.close()


def test_scope_is_everything_but_the_last_user_message() -> None:
    body: dict[str, Any] = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]}
    same = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}], "stream": True}
    other_system = {"messages": [{"role": "system", "content": "Be verbose."}, {"role": "user", "content": "Hi there"}]}
    assert scope_key("t", "r", body) == scope_key("t", "r", same) != scope_key("t", "r", other_system)
    assert scope_key("t", "r", body) != scope_key("u", "r", body)
    assert last_user_text(body) == "Hi there"
    assert last_user_text({"messages": [{"role": "assistant", "content": "x"}]}) is None


# --- through the processor ---------------------------------------------------------


def gateway(policy: CachePolicy = CachePolicy(mode="semantic", threshold=DEFAULT_THRESHOLD)) -> Gateway:
    return build_gateway(
        yaml.safe_load(DEFAULT_CONFIG.read_text()),
        credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
        settings=Settings(auth_mode="none"),
        privacy=PrivacyPolicies(),
        cache=CachePolicies(default=policy),
    )


async def ask(gw: Gateway, text: str, tenant: str = "acme") -> tuple[RouterProcessor, Reply | Changes]:
    proc = RouterProcessor(gw)
    await proc.request_headers({":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json"}, False)
    proc.ctx.tenant = tenant
    return proc, await proc.request_body(orjson.dumps({"model": "fast", "messages": [{"role": "user", "content": text}]}))


async def answer(proc: RouterProcessor, text: str) -> None:
    await proc.response_headers({":status": "200", "content-type": "application/json", "x-envoy-upstream-service-time": "1"}, False, {})
    body = {"id": "c", "object": "chat.completion", "model": "m", "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}  # fmt: skip
    await proc.response_body(orjson.dumps(body), True)


async def test_a_paraphrase_hits_and_says_how_similar_it_was() -> None:
    gw = gateway()
    proc, _ = await ask(gw, "How do I reverse a list in Python?")
    await answer(proc, "Use list.reverse() or reversed().")
    _, reply = await ask(gw, "Python: what's the way to reverse a list?")
    assert isinstance(reply, Reply), "a paraphrase should hit"
    assert orjson.loads(reply.body)["choices"][0]["message"]["content"] == "Use list.reverse() or reversed()."
    assert reply.headers["x-gateway-cache-match"] == "semantic"
    assert 0.82 <= float(reply.headers["x-gateway-cache-similarity"]) < 1


async def test_near_misses_and_other_tenants_do_not_hit() -> None:
    gw = gateway()
    proc, _ = await ask(gw, "Convert 5 miles to km")
    await answer(proc, "8.05 km")
    for text in ("Convert 50 miles to km", "Convert 5 km to miles"):
        proc, miss = await ask(gw, text)
        assert isinstance(miss, Changes), text
        assert any(d.startswith("cache:guarded:") for d in proc.ctx.decisions) or proc.ctx.cache_outcome == "miss"
    proc, other = await ask(gw, "Convert 5 miles to km", tenant="globex")
    assert isinstance(other, Changes) and proc.ctx.cache_outcome == "miss"
