"""The semantic index (in process and in a real PostgreSQL with pgvector) and the semantic cache
through the router processor: paraphrases hit, near misses and other tenants never do; labels stay
with their entry and the calibration with its route, shared by replicas and kept across restarts;
a learning route explores first, hits once it has learned, and does not serve a near miss again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.cache.embeddings import Embedder
from extproc.cache.learned import MAX_LABELS, Calibration, Label
from extproc.cache.policy import DEFAULT_THRESHOLD, CachePolicies, CachePolicy
from extproc.cache.semantic import MemoryIndex, PgVectorIndex, SemanticIndex, last_user_text, scope_key
from extproc.cache.store import Entry
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config
from tests.support.postgres_server import postgres_server

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


async def test_labels_stay_with_their_entry_and_the_calibration_with_its_route(index: SemanticIndex) -> None:
    route = f"route-{uuid.uuid4().hex[:8]}"
    await index.add("acme", "s", unit(1, 0), "first", entry("a"), 60, [Label(0.9, False)])
    [found] = await index.search("acme", "s", unit(1, 0))
    assert found.labels == [Label(0.9, False)]
    await index.label("acme", found.key, Label(0.93, True))
    await index.label("globex", found.key, Label(0.5, True))  # another tenant's: not its entry
    [found] = await index.search("acme", "s", unit(1, 0))
    assert found.labels == [Label(0.9, False), Label(0.93, True)]
    for _ in range(MAX_LABELS + 3):
        await index.label("acme", found.key, Label(0.95, True))
    [found] = await index.search("acme", "s", unit(1, 0))
    assert found.labels == [Label(0.95, True)] * MAX_LABELS
    await index.calibrate("acme", route, Label(0.91, True))
    await index.calibrate("acme", route, Label(0.912, False))
    calibration = await index.calibration("acme", route)
    assert (calibration.right[Calibration.bin(0.91)], calibration.wrong[Calibration.bin(0.91)]) == (1, 1)
    assert (await index.calibration("globex", route)).labels == 0
    assert (await index.calibration("acme", "another-route")).labels == 0


async def test_replicas_share_labels_and_calibration_and_a_restart_keeps_them(postgres_url: str) -> None:
    """Two indexes on one database, as two replicas: twenty labels written at once, none lost."""
    route = f"route-{uuid.uuid4().hex[:8]}"
    first, second = PgVectorIndex(postgres_url), PgVectorIndex(postgres_url)
    await first.purge("initech")
    await first.add("initech", "s", unit(0, 1), "shared", entry("x"), 60)
    [candidate] = await second.search("initech", "s", unit(0, 1))
    await asyncio.gather(
        *(replica.label("initech", candidate.key, Label(0.9, True)) for replica in (first, second) for _ in range(10)),
        *(replica.calibrate("initech", route, Label(0.9, True)) for replica in (first, second) for _ in range(10)),
    )
    await first._pool.close()
    await second._pool.close()
    restarted = PgVectorIndex(postgres_url)
    [again] = await restarted.search("initech", "s", unit(0, 1))
    assert again.labels == [Label(0.9, True)] * 20
    assert (await restarted.calibration("initech", route)).right[Calibration.bin(0.9)] == 20
    await restarted._pool.close()


async def test_a_table_made_before_labels_gains_them(postgres_url: str) -> None:
    import psycopg

    database = f"old_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    url = postgres_url.replace("/postgres?", f"/{database}?", 1)
    with psycopg.connect(url, autocommit=True) as old:
        old.execute("CREATE EXTENSION IF NOT EXISTS vector")
        old.execute("CREATE TABLE llm_gateway_semantic_cache (id bigserial PRIMARY KEY, tenant text NOT NULL, "
                    "scope text NOT NULL, embedding vector(384) NOT NULL, prompt text NOT NULL, entry jsonb NOT NULL, "
                    "expires_at timestamptz NOT NULL)")  # fmt: skip
    pg = PgVectorIndex(url)
    await pg.add("acme", "s", unit(1), "kept", entry("x"), 60)
    [found] = await pg.search("acme", "s", unit(1))
    await pg.label("acme", found.key, Label(0.97, True))
    [found] = await pg.search("acme", "s", unit(1))
    assert found.labels == [Label(0.97, True)]
    await pg._pool.close()


async def test_an_unreachable_postgres_is_a_miss() -> None:
    pg = PgVectorIndex("postgresql://postgres@127.0.0.1:1/postgres")
    assert await pg.search("acme", "s", unit(1)) == []
    await pg.add("acme", "s", unit(1), "p", entry("x"), 60)  # logged, not raised
    await pg.label("acme", "1", Label(0.9, True))
    await pg.calibrate("acme", "r", Label(0.9, True))
    assert (await pg.calibration("acme", "r")).labels == 0
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


def gateway(policy: CachePolicy = CachePolicy(mode="semantic", threshold=DEFAULT_THRESHOLD)) -> Gateway:  # noqa: B008  # frozen value
    return build_gateway(
        gateway_config("gpt-4o-mini"),
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


# --- a route that learns ---------------------------------------------------------------------

LEARNING = CachePolicy(mode="semantic", max_error_rate=0.25, max_exploration_rate=1.0, compare="exact")
QUESTION, ANSWER = "How do I reverse a list in Python?", "Use reversed(), or list.reverse() in place."
PARAPHRASES = [
    "How can I reverse a Python list?",
    "Python: what's the way to reverse a list?",
    "In Python, how do I get a list's elements in reverse order?",
    "What's the simplest way to flip the order of a list in Python?",
    "how do i reverse a python list",
    "Reversing a list in Python: how?",
    "What is the way to reverse a list in Python?",
    "How would I reverse a list in Python?",
]


async def explore_or_hit(gw: Gateway, text: str, provider_says: str, tenant: str = "acme") -> Reply | str:
    """The reply of a hit; else the decision, after the provider's answer settled the exploration."""
    proc, reply = await ask(gw, text, tenant)
    if isinstance(reply, Reply):
        return reply
    explored = "x-gateway-cache-explore" in proc.ctx.client_headers
    await answer(proc, provider_says)
    assert gw.cache is not None and gw.cache.explorer is not None
    await gw.cache.explorer.drain()
    return "explore" if explored else "miss"


async def test_a_learning_route_explores_first_and_hits_once_it_has_learned() -> None:
    gw = gateway(LEARNING)
    proc, _ = await ask(gw, QUESTION)
    await answer(proc, ANSWER)
    seen: list[Reply | str] = []
    for text in PARAPHRASES:
        seen.append(await explore_or_hit(gw, text, ANSWER))
        if isinstance(seen[-1], Reply):
            break
    assert seen[0] == "explore", seen
    hit = seen[-1]
    assert isinstance(hit, Reply), f"no hit after {len(seen)} paraphrases: {seen}"
    assert orjson.loads(hit.body)["choices"][0]["message"]["content"] == ANSWER
    assert hit.headers["x-gateway-cache-match"] == "semantic"
    # What acme's route learned is acme's: globex explores (or misses) the same paraphrase.
    proc, _ = await ask(gw, QUESTION, tenant="globex")
    await answer(proc, ANSWER)
    assert not isinstance(await explore_or_hit(gw, PARAPHRASES[0], ANSWER, tenant="globex"), Reply)


async def test_a_near_miss_found_wrong_is_not_served_the_cached_answer_again() -> None:
    gw = gateway(LEARNING)
    proc, _ = await ask(gw, QUESTION)
    await answer(proc, ANSWER)
    near_miss, its_answer = "How do I reverse a linked list in Python?", "Walk the nodes and flip each next pointer."
    assert await explore_or_hit(gw, near_miss, its_answer) == "explore"
    # The route learns that looser paraphrases (0.77 to 0.93 alike) are right: without what the
    # near miss taught, its look-alikes (0.87) would now be served the list's answer.
    taught = ["What's the simplest way to flip the order of a list in Python?", "Invert a list in Python.",
              "In Python, how do I get a list's elements in reverse order?", "Reverse the order of items in a Python list.",
              "Give me Python code that reverses a list.", "Python list reversal?", "Reversing a list in Python: how?"]  # fmt: skip
    for text in taught:
        await explore_or_hit(gw, text, ANSWER)
    for text in (near_miss, "How can I reverse a linked list in Python?", "how do I reverse a linked list in python",
                 "How do I reverse a linked list in Python??"):  # fmt: skip
        result = await explore_or_hit(gw, text, its_answer)
        if isinstance(result, Reply):
            assert orjson.loads(result.body)["choices"][0]["message"]["content"] == its_answer, text
