"""The bucket, spend and hold stores: the same behaviour in process, in SQLite and in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio

from extproc.tenancy.limits import (
    DAY,
    MONTH,
    REQUESTS,
    TOKENS,
    Bucket,
    Charge,
    Hold,
    Limits,
    MemoryLimits,
    RedisLimits,
    SqliteLimits,
    bucket_key,
)
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Limits]:
    if request.param == "memory":
        yield MemoryLimits()
    elif request.param == "sqlite":
        sqlite = SqliteLimits(tmp_path / "limits.sqlite3")
        yield sqlite
        sqlite.close()
    else:
        client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        await client.flushdb()
        yield RedisLimits(client)
        await client.aclose()


def _bucket(name: str, capacity: float, unit: str = REQUESTS) -> Bucket:
    return Bucket(bucket_key("tenant", "acme", name, unit), capacity, unit, "tenant")


async def test_a_request_takes_from_every_bucket_or_from_none(store: Limits) -> None:
    wide, narrow = _bucket("wide", 10), _bucket("narrow", 3)
    for _ in range(3):
        assert (await store.take([(wide, 1), (narrow, 1)])).admitted
    refused = await store.take([(wide, 1), (narrow, 1)])
    assert not refused.admitted
    assert [level.bucket for level in refused.short] == [narrow]
    # The wide bucket gave nothing to the refused request.
    levels = await store.settle([(wide, 0)])
    assert levels[0].level == pytest.approx(7, abs=0.1)


async def test_a_refusal_says_how_long_until_the_cost_fits(store: Limits) -> None:
    per_second = _bucket("slow", 60)  # one request per second
    assert (await store.take([(per_second, 60)])).admitted
    refused = await store.take([(per_second, 1)])
    assert not refused.admitted
    assert 0.8 < refused.retry_after <= 1.0


async def test_settling_gives_back_unused_tokens_and_takes_extra_ones(store: Limits) -> None:
    tokens = _bucket("tpm", 1000, TOKENS)
    assert (await store.take([(tokens, 300)])).admitted
    (after_refund,) = await store.settle([(tokens, 200)])  # reserved 300, used 100
    assert after_refund.level == pytest.approx(900, abs=1)
    (after_debt,) = await store.settle([(tokens, -1400)])  # used far more than reserved
    assert after_debt.level == pytest.approx(-500, abs=1) and after_debt.remaining == 0
    (full,) = await store.settle([(tokens, 10_000)])
    assert full.level == 1000  # never above the limit


async def test_an_empty_bucket_refills_continuously(store: Limits) -> None:
    fast = _bucket("fast", 6000)  # 100 per second
    assert (await store.take([(fast, 6000)])).admitted
    assert not (await store.take([(fast, 10)])).admitted
    await asyncio.sleep(0.25)
    assert (await store.take([(fast, 10)])).admitted


async def test_buckets_of_different_tenants_are_separate(store: Limits) -> None:
    mine = Bucket(bucket_key("tenant", "acme", "all", REQUESTS), 1, REQUESTS, "tenant")
    theirs = Bucket(bucket_key("tenant", "globex", "all", REQUESTS), 1, REQUESTS, "tenant")
    assert (await store.take([(mine, 1)])).admitted
    assert not (await store.take([(mine, 1)])).admitted
    assert (await store.take([(theirs, 1)])).admitted


async def test_spend_adds_up_per_tenant(store: Limits) -> None:
    await store.settle([], Charge("acme", 0.25))
    await store.settle([], Charge("acme", 0.5))
    spend = await store.spend("acme")
    assert spend.day == pytest.approx(0.75) and spend.month == pytest.approx(0.75) and spend.reserved == 0
    assert (await store.spend("globex")).day == 0.0


# --- budget holds ----------------------------------------------------------------------------


async def test_a_hold_counts_against_the_budget_until_it_is_settled(store: Limits) -> None:
    hold = Hold("acme", usd=0.4, per_day=1.0)
    first, second, third = [await store.take([], hold) for _ in range(3)]
    assert first.admitted and second.admitted and first.hold_id and second.hold_id != first.hold_id
    # 0.8 held: a third worst case of 0.4 may still start (the budget is not reached), a fourth may not.
    assert third.admitted
    fourth = await store.take([], hold)
    assert not fourth.admitted and fourth.over_budget == DAY
    assert fourth.spend is not None and fourth.spend.reserved == pytest.approx(1.2) and fourth.spend.day == 0
    # Settling releases the worst case and charges the real cost.
    for admitted in (first, second, third):
        await store.settle([], Charge("acme", 0.1, admitted.hold_id))
    spend = await store.spend("acme")
    assert spend.day == pytest.approx(0.3) and spend.reserved == 0
    assert (await store.take([], hold)).admitted


async def test_the_monthly_budget_holds_too_and_other_tenants_are_apart(store: Limits) -> None:
    await store.settle([], Charge("acme", 5.0))
    refused = await store.take([], Hold("acme", usd=0.01, per_day=100.0, per_month=5.0))
    assert not refused.admitted and refused.over_budget == MONTH
    assert (await store.take([], Hold("globex", usd=0.01, per_day=100.0, per_month=5.0))).admitted


async def test_a_budget_refusal_takes_nothing_from_the_buckets(store: Limits) -> None:
    requests = _bucket("rpm", 10)
    await store.settle([], Charge("acme", 1.0))
    refused = await store.take([(requests, 1)], Hold("acme", usd=0.01, per_day=1.0))
    assert not refused.admitted and refused.over_budget == DAY and refused.hold_id is None
    (level,) = await store.settle([(requests, 0)])
    assert level.level == pytest.approx(10)


async def test_a_bucket_refusal_makes_no_hold(store: Limits) -> None:
    requests = _bucket("one", 1)
    hold = Hold("acme", usd=0.5, per_day=10.0)
    assert (await store.take([(requests, 1)], hold)).admitted
    refused = await store.take([(requests, 1)], hold)
    assert not refused.admitted and refused.short and refused.hold_id is None
    assert (await store.spend("acme")).reserved == pytest.approx(0.5)


async def test_a_hold_that_is_never_settled_expires(store: Limits) -> None:
    hold = Hold("acme", usd=1.0, per_day=1.0, ttl_seconds=0.2)
    assert (await store.take([], hold)).admitted
    assert not (await store.take([], hold)).admitted
    await asyncio.sleep(0.3)
    assert (await store.spend("acme")).reserved == 0
    assert (await store.take([], hold)).admitted


async def test_concurrent_requests_hold_no_more_than_the_budget_allows(store: Limits) -> None:
    hold = Hold("acme", usd=0.15, per_day=0.5)
    admissions = await asyncio.gather(*(store.take([], hold) for _ in range(50)))
    # Admitted while spend plus holds stayed below 0.5: 0, 0.15, 0.30, 0.45.
    assert sum(a.admitted for a in admissions) == 4


# --- per store ---------------------------------------------------------------------------------


async def test_spend_starts_over_on_a_new_day_but_not_a_new_month() -> None:
    now = [1_795_000_000.0]  # 2026-11-18, UTC
    store = MemoryLimits(wall_clock=lambda: now[0])
    await store.settle([], Charge("acme", 1.0))
    now[0] += 86_400
    spend = await store.spend("acme")
    assert spend.day == 0.0 and spend.month == 1.0


async def test_the_memory_store_refills_by_its_clock() -> None:
    now = [0.0]
    store = MemoryLimits(clock=lambda: now[0])
    bucket = _bucket("minute", 60)
    assert (await store.take([(bucket, 60)])).admitted
    now[0] += 30
    assert (await store.take([(bucket, 30)])).admitted
    assert not (await store.take([(bucket, 1)])).admitted
