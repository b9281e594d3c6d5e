"""The semantic cache end to end: real Envoy, two service processes, Redis for exact entries and
PostgreSQL with pgvector (the pgserver wheel) for the semantic index, the fake provider and the openai
SDK. With a fixed threshold (the `fast` route), a paraphrase hits; a near miss and another tenant do
not. On a learning route (`gpt-4o`, max_error_rate), an entry explored several times starts to hit;
a near miss explored and found wrong is not served the cached answer again; a second gateway on the
same database hits on what the first one learned; another tenant never hits. With Postgres or Redis
killed, requests still succeed.

The fake provider answers "Fake reply to: <prompt>", cut at a stop sequence: with `stop: ["|"]` and
prompts "<key> | <question>", every prompt with the same key gets the same answer, so an
exploration's label (compare: exact) is right exactly when the keys match."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio

from extproc.config.envoy_yaml import iter_routes
from extproc.ops.launcher import Stack
from extproc.tenancy.keys import RedisKeyStore, generate_key, new_record
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack, wait_until
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server
from tests.support.sdk_clients import ADMIN_AUTH, TEST_ADMIN_KEY, openai_client

pytestmark = pytest.mark.e2e


# The gateway, each tenant's API key, the Postgres PID and the config the gateway runs.
Semantic = tuple[Stack, dict[str, str], int, dict[str, Any]]
LEARNING_ROUTE = "gpt-4o"
TENANTS = ("acme", "globex", "initech", "hooli")


def semantic_config(redis_url: str, postgres_url: str) -> dict[str, Any]:
    """The shipped config with a shared store, a fixed threshold gateway-wide and a learning gpt-4o."""
    config = shipped_config()
    meta = tenancy_metadata(config)
    meta["store"] = {"kind": "redis", "redis_url": redis_url, "on_error": "allow"}
    meta["cache"] = {"mode": "semantic", "ttl_seconds": 600, "threshold": 0.82, "semantic_store": "pgvector",
                     "postgres_url": postgres_url}  # fmt: skip
    for route in iter_routes(config):
        llm = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if llm.get("model") == LEARNING_ROUTE:
            llm["cache"] = {"max_error_rate": 0.3, "max_exploration_rate": 1.0, "compare": "exact"}
    return config


@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Semantic]:
    tmp = tmp_path_factory.mktemp("semantic")
    with redis_server(tmp) as redis_url, postgres_server(tmp) as (postgres_url, postgres_pid):
        config = semantic_config(redis_url, postgres_url)
        keys = {tenant: generate_key() for tenant in TENANTS}

        async def add() -> None:
            client = redis.asyncio.Redis.from_url(redis_url)
            for tenant, key in keys.items():
                await RedisKeyStore(client).add(new_record(key, tenant))
            await RedisKeyStore(client).add(new_record(TEST_ADMIN_KEY, "ops", admin=True))
            await client.aclose()

        asyncio.run(add())
        stack = start_stack(tmp, config, workers=2)
        try:
            yield stack, keys, postgres_pid, config  # the config: for a second gateway on the same stores
        finally:
            stack.stop()


def _client(stack: Stack, key: str) -> openai.OpenAI:
    return openai_client(f"http://127.0.0.1:{stack.port}/v1", api_key=key)


def _ask(client: openai.OpenAI, text: str, **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": text}], **extra)


def _subject() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=8))


def test_a_paraphrase_is_answered_from_the_semantic_cache(semantic: Semantic) -> None:
    stack, keys, *_ = semantic
    client = _client(stack, keys["acme"])
    subject = _subject()
    first = _ask(client, f"How do I reverse a list in Python? ({subject})")
    assert first.headers["x-gateway-cache"] == "miss"
    reached = len(fake_requests(stack))
    again = _ask(client, f"Python: what's the way to reverse a list? ({subject})")
    assert again.headers["x-gateway-cache"] == "hit" and again.headers["x-gateway-cache-match"] == "semantic"
    assert float(again.headers["x-gateway-cache-similarity"]) >= 0.82
    assert again.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert len(fake_requests(stack)) == reached
    line = access_log_entry(stack, again.headers["x-gateway-request-id"])
    assert line["cache"] == "hit"
    streamed = client.chat.completions.create(
        model="fast", stream=True, messages=[{"role": "user", "content": f"In Python, how can I reverse a list? ({subject})"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == first.parse().choices[0].message.content


def test_a_near_miss_and_another_tenant_never_hit(semantic: Semantic) -> None:
    stack, keys, *_ = semantic
    subject = _subject()
    acme = _client(stack, keys["acme"])
    assert _ask(acme, f"Convert 5 miles to km for {subject}").headers["x-gateway-cache"] == "miss"
    assert _ask(acme, f"Convert 50 miles to km for {subject}").headers["x-gateway-cache"] == "miss"
    assert _ask(acme, f"Convert 5 km to miles for {subject}").headers["x-gateway-cache"] == "miss"
    globex = _client(stack, keys["globex"])
    assert _ask(globex, f"Convert 5 miles to km for {subject}").headers["x-gateway-cache"] == "miss"


QUESTION = "How do I reverse a list in Python?"
NEAR_MISS = "How do I reverse a linked list in Python?"
PARAPHRASES = [
    "How can I reverse a Python list?",
    "Python: what's the way to reverse a list?",
    "In Python, how do I get a list's elements in reverse order?",
    "What's the simplest way to flip the order of a list in Python?",
    "how do i reverse a python list",
    "Reversing a list in Python: how?",
    "Reverse the order of items in a Python list.",
    "Give me Python code that reverses a list.",
    "What is the way to reverse a list in Python?",
    "How would I reverse a list in Python?",
]


# Same answer as QUESTION, 0.80 to 0.85 alike with a shared key.
TAUGHT = [
    "How do I make a Python list go from last to first?",
    "Give me a Python snippet that flips a list's order.",
    "Python: invert the order of elements in a list",
    "Python list, backwards order, how?",
    "Show the idiom for iterating a list backwards in Python.",
    "What's the simplest way to flip the order of a list in Python?",
]


def _keyed(client: openai.OpenAI, key: str, text: str) -> Any:
    """Ask the learning route; the fake provider's answer is "Fake reply to: <key>"."""
    return client.chat.completions.with_raw_response.create(
        model=LEARNING_ROUTE, stop=["|"], messages=[{"role": "user", "content": f"{key} | {text}"}]
    )


def _explorations(stack: Stack, tenant: str, outcome: str | None = None) -> float:
    """The tenant's settled explorations on the learning route, summed over the service processes."""
    with httpx.Client(timeout=10) as http:
        text = http.get(f"http://127.0.0.1:{stack.port}/metrics", headers=ADMIN_AUTH).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("llm_gateway_cache_explorations_total{") and f'tenant="{tenant}"' in line:
            if f'route="{LEARNING_ROUTE}"' in line and (outcome is None or f'outcome="{outcome}"' in line):
                total += float(line.rsplit(" ", 1)[1])
    return total


def _learn(stack: Stack, client: openai.OpenAI, tenant: str, key: str, texts: list[str]) -> Any:
    """Ask `texts` in turn, each explored one settled before the next; the first hit's reply, or None."""
    for text in texts:
        settled = _explorations(stack, tenant) + 1
        reply = _keyed(client, key, text)
        if reply.headers["x-gateway-cache"] == "hit":
            return reply
        if "x-gateway-cache-explore" in reply.headers:
            wait_until(lambda: _explorations(stack, tenant) >= settled, timeout=30)
    return None


def _content(reply: Any) -> str:
    """The answer's text (the fake provider's, cut at the stop sequence, without the space before it)."""
    return reply.parse().choices[0].message.content.strip()


def test_an_entry_explored_several_times_starts_to_hit(semantic: Semantic) -> None:
    stack, keys, *_ = semantic
    client, key = _client(stack, keys["acme"]), _subject()
    first = _keyed(client, key, QUESTION)
    assert first.headers["x-gateway-cache"] == "miss" and "x-gateway-cache-explore" not in first.headers
    explored = _keyed(client, key, PARAPHRASES[0])
    assert explored.headers["x-gateway-cache"] == "miss" and float(explored.headers["x-gateway-cache-explore"]) > 0.5
    wait_until(lambda: _explorations(stack, "acme", "right") >= 1, timeout=30)
    hit = _learn(stack, client, "acme", key, PARAPHRASES[1:])
    assert hit is not None, "no paraphrase hit after every one was explored"
    assert hit.headers["x-gateway-cache-match"] == "semantic"
    reached = len(fake_requests(stack))
    assert _content(hit) == _content(first) == f"Fake reply to: {key}"
    assert len(fake_requests(stack)) == reached
    line = access_log_entry(stack, hit.headers["x-gateway-request-id"])
    assert line["cache"] == "hit" and any(d.startswith("cache:hit:risk=") for d in line["decisions"])


def test_a_near_miss_found_wrong_is_not_served_the_cached_answer_again(semantic: Semantic) -> None:
    stack, keys, *_ = semantic
    client, base = _client(stack, keys["initech"]), _subject()
    key, other = f"{base} kiwi", f"{base} plum"  # one word apart: the prompts stay alike (0.82)
    assert _content(_keyed(client, key, QUESTION)) == f"Fake reply to: {key}"
    near = _keyed(client, other, NEAR_MISS)
    assert "x-gateway-cache-explore" in near.headers and _content(near) == f"Fake reply to: {other}"
    wait_until(lambda: _explorations(stack, "initech", "wrong") >= 1, timeout=30)
    # The route learns that prompts as far from the question as the near miss (0.80 to 0.85) are
    # right: without what the near miss taught, its look-alikes would now get the list's answer.
    for text in TAUGHT:
        _learn(stack, client, "initech", key, [text])
    for text in (NEAR_MISS, "How can I reverse a linked list in Python?", "how do I reverse a linked list in python"):
        assert _content(_keyed(client, other, text)) == f"Fake reply to: {other}", text


def test_a_second_gateway_hits_on_what_the_first_learned_and_no_other_tenant_does(
    semantic: Semantic, tmp_path: Path
) -> None:
    """Two gateways on one Postgres and one Redis, as two replicas: what hooli's explorations taught
    through the first is what the second serves from; globex, asking the same, never hits."""
    stack, keys, _, config = semantic
    hooli, key = _client(stack, keys["hooli"]), _subject()
    first = _keyed(hooli, key, QUESTION)
    assert _learn(stack, hooli, "hooli", key, PARAPHRASES[:-1]) is not None
    second = start_stack(tmp_path, config, workers=1)
    try:
        hit = _keyed(_client(second, keys["hooli"]), key, PARAPHRASES[-1])
        assert hit.headers["x-gateway-cache"] == "hit", hit.headers
        assert _content(hit) == _content(first)
        # globex's first look at the same prompts: nothing of hooli's is a candidate.
        assert _keyed(_client(stack, keys["globex"]), key, QUESTION).headers["x-gateway-cache"] == "miss"
        assert _keyed(_client(second, keys["globex"]), key, PARAPHRASES[-1]).headers["x-gateway-cache"] == "miss"
    finally:
        second.stop()


def test_with_postgres_killed_requests_still_succeed(semantic: Semantic) -> None:
    """Last in the module: Postgres does not come back (Redis being killed is test_cache.py's)."""
    stack, keys, postgres_pid, _ = semantic
    client = _client(stack, keys["acme"])
    assert _ask(client, f"warm the key cache {_subject()}").http_response.status_code == 200
    os.kill(postgres_pid, signal.SIGKILL)
    for _ in range(3):
        answer = _ask(client, f"What is the capital of {_subject()}?")
        assert answer.http_response.status_code == 200 and answer.headers["x-gateway-cache"] == "miss"
    with httpx.Client(timeout=10) as http:
        metrics = http.get(f"http://127.0.0.1:{stack.port}/metrics", headers=ADMIN_AUTH).text
    assert 'outcome="hit"' in metrics
