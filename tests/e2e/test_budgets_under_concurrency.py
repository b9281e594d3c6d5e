"""Budgets hold under concurrency: 50 requests at once against a tiny budget, through real Envoy.

Each request reserves its worst case (prompt plus max_tokens, priced on the dearest endpoint it
may reach) at admission, atomically in the store, and settles on the real cost. So the tenant
spends at most its budget plus one request's worst case, however many requests are in flight:
with the in-process store (one service process), the embedded SQLite store and Redis (two
processes each).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extproc.ops.launcher import Stack
from extproc.tenancy.settings import tenancy_metadata
from tests.support.redis_server import redis_server
from tests.support.sdk_clients import TEST_API_KEY

from .conftest import shipped_config, start_stack

pytestmark = pytest.mark.e2e

BUDGET_USD = 0.0005
CONCURRENT = 50
# The fake provider repeats the prompt: about 200 tokens in and, capped by max_tokens, 200 out.
PROMPT = "tell me about budgets " * 50
MAX_TOKENS = 200
# gpt-4o-mini's list prices (the shipped `fast` route), USD per token.
INPUT_PRICE, OUTPUT_PRICE = 0.15e-6, 0.6e-6


@pytest.fixture(params=["memory", "sqlite", "redis"])
def tight(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """Tenant `test` with a budget of BUDGET_USD a day, on each store."""
    kind = request.param
    config = copy.deepcopy(shipped_config())
    meta = tenancy_metadata(config)
    meta["tenants"] = {"test": {"budget": {"usd_per_day": BUDGET_USD}}}
    if kind == "memory":
        meta["store"] = {"kind": "memory"}
        stack = start_stack(tmp_path, config, workers=1)
        yield stack
        stack.stop()
    elif kind == "sqlite":
        meta["store"] = {"kind": "sqlite", "path": str(tmp_path / "limits.sqlite3")}
        stack = start_stack(tmp_path, config, workers=2)
        yield stack
        stack.stop()
    else:
        with redis_server(tmp_path) as url:
            meta["store"] = {"kind": "redis", "redis_url": url}
            _add_test_key_to_redis(url)
            stack = start_stack(tmp_path, config, workers=2)
            yield stack
            stack.stop()


def _add_test_key_to_redis(url: str) -> None:
    import redis.asyncio

    from extproc.tenancy.keys import RedisKeyStore, new_record

    async def add() -> None:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        await RedisKeyStore(client).add(new_record(TEST_API_KEY, "test", "tests"))
        await client.aclose()

    asyncio.run(add())


def _concurrent(stack: Stack, total: int, body: dict[str, Any], headers: dict[str, str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=total, max_keepalive_connections=total)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.port}", timeout=60, limits=limits) as http:
            return list(await asyncio.gather(*(http.post("/v1/chat/completions", json=body, headers=headers) for _ in range(total))))

    return asyncio.run(run())


def test_fifty_concurrent_requests_spend_at_most_the_budget_plus_one_request(tight: Stack) -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    headers = {"authorization": f"Bearer {TEST_API_KEY}", "x-fake-latency-ms": "1500"}
    answers = _concurrent(tight, CONCURRENT, body, headers)
    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert admitted, [a.text for a in answers[:3]]
    for answer in refused:
        assert answer.status_code == 429 and answer.json()["error"]["code"] == "budget_exceeded", answer.text
        assert int(answer.headers["retry-after"]) >= 1
    spent = sum(float(a.headers["x-gateway-cost-usd"]) for a in admitted)
    prompt_tokens = max(a.json()["usage"]["prompt_tokens"] for a in admitted)
    # The most one request may cost, as the gateway bounds it (its prompt plus max_tokens).
    worst_case = prompt_tokens * INPUT_PRICE + MAX_TOKENS * OUTPUT_PRICE
    each = spent / len(admitted)
    print(f"admitted {len(admitted)} of {CONCURRENT}, spent ${spent:.6f} of ${BUDGET_USD} (one request ${each:.6f})")
    assert spent <= BUDGET_USD + worst_case, (len(admitted), spent)
    # Held, not merely refused: the tenant got about what its budget buys.
    assert spent >= BUDGET_USD - 2 * worst_case, (len(admitted), spent)
    own = httpx.get(f"{tight.base_url}/gateway/limits", headers={"authorization": f"Bearer {TEST_API_KEY}"}, timeout=10).json()
    assert own["spend_usd"]["day"] == pytest.approx(spent, rel=1e-6)
    # Every reservation was settled: nothing is held for requests no longer in flight.
    assert own["reserved_usd"] == 0
