"""The limits stage: stacked buckets, token reservations settled by usage, budgets, OpenAI's headers."""

from __future__ import annotations

import time

import pytest

from extproc.config.catalog import Endpoint, ModelRoute
from extproc.context import RequestContext
from extproc.cost.estimate import Estimator
from extproc.cost.pricing import Pricing
from extproc.cost.usage import Usage
from extproc.errors import GatewayError, StoreUnavailable
from extproc.stages.limits import LimitsStage, duration
from extproc.tenancy.limits import MemoryLimits
from extproc.tenancy.settings import Budget, Rates, Settings, TenantPolicy

ROUTE = ModelRoute(name="gpt-4o-mini", cluster="c", endpoints=(Endpoint(model="openai/gpt-4o-mini", cluster="c", address="a", priority=0, provider="openai"),))


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator(Pricing())


def _ctx(tenant: str = "acme", key_id: str | None = "key_1", max_tokens: int | None = 100) -> RequestContext:
    body: dict = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return RequestContext(tenant=tenant, key_id=key_id, route=ROUTE, body=body)


def _stage(estimator: Estimator, policy: TenantPolicy, **settings: object) -> LimitsStage:
    return LimitsStage(Settings(default=policy, **settings), MemoryLimits(), estimator)  # type: ignore[arg-type]


async def test_the_tightest_limit_refuses_with_retry_after_and_openai_headers(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(per_tenant=Rates(requests_per_minute=100), per_key=Rates(requests_per_minute=2)))
    for _ in range(2):
        ctx = _ctx()
        assert await stage.on_request(ctx) is None
    assert ctx.client_headers["x-ratelimit-limit-requests"] == "2"
    assert ctx.client_headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(GatewayError) as raised:
        await stage.on_request(_ctx())
    error = raised.value
    assert error.status == 429 and error.code == "rate_limit_exceeded" and error.type == "requests"
    assert "this API key" in error.message and "limit 2" in error.message
    assert 1 <= int(error.headers["retry-after"]) <= 30
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    # Another key of the same tenant is not held back by this key's bucket.
    assert await stage.on_request(_ctx(key_id="key_2")) is None


async def test_a_reservation_is_settled_by_the_real_usage(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(per_tenant=Rates(tokens_per_minute=10_000)))
    ctx = _ctx(max_tokens=500)
    started = time.monotonic()
    await stage.on_request(ctx)
    reserved = 10_000 - int(ctx.client_headers["x-ratelimit-remaining-tokens"])
    assert 500 < reserved < 530  # the prompt plus max_tokens
    ctx.usage = Usage(prompt_tokens=9, completion_tokens=41)
    await stage.on_response(ctx)
    remaining = int(ctx.client_headers["x-ratelimit-remaining-tokens"])
    # What the answer used, not what it might have; the bucket refills 10,000/60 a second meanwhile
    # (a loaded CI machine took long enough between the two for a few tokens to come back).
    refilled = (time.monotonic() - started) * 10_000 / 60
    assert 10_000 - 50 - 1 <= remaining <= 10_000 - 50 + refilled + 1
    assert ctx.reservation is None


async def test_a_failed_answer_gives_its_whole_reservation_back(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(per_tenant=Rates(tokens_per_minute=10_000)))
    ctx = _ctx()
    await stage.on_request(ctx)
    await stage.on_response(ctx)  # no usage: the provider failed
    assert int(ctx.client_headers["x-ratelimit-remaining-tokens"]) >= 9_999


async def test_a_request_larger_than_the_limit_is_told_so(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(per_tenant=Rates(tokens_per_minute=1000)))
    with pytest.raises(GatewayError, match="Request too large") as raised:
        await stage.on_request(_ctx(max_tokens=5000))
    assert raised.value.status == 429 and "retry-after" not in raised.value.headers


async def test_model_limits_apply_per_tenant_on_that_model(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(), model_rates={"gpt-4o-mini": Rates(requests_per_minute=1)})
    await stage.on_request(_ctx())
    with pytest.raises(GatewayError, match="on this model"):
        await stage.on_request(_ctx())
    assert await stage.on_request(_ctx(tenant="globex")) is None


async def test_spend_counts_against_the_budget(estimator: Estimator) -> None:
    stage = _stage(estimator, TenantPolicy(budget=Budget(usd_per_day=0.01)))
    ctx = _ctx()
    await stage.on_request(ctx)
    ctx.cost_usd = 0.011
    await stage.on_response(ctx)
    with pytest.raises(GatewayError) as raised:
        await stage.on_request(_ctx())
    assert raised.value.status == 429 and raised.value.code == "budget_exceeded"
    assert raised.value.type == "insufficient_quota" and "daily budget" in raised.value.message
    assert 0 < int(raised.value.headers["retry-after"]) <= 86_400
    assert await stage.on_request(_ctx(tenant="globex")) is None


class _DownStore(MemoryLimits):
    async def take(self, costs, hold=None):  # noqa: ANN001, ANN202
        raise StoreUnavailable("redis limits: ConnectionError")


@pytest.mark.parametrize(("on_error", "status"), [("allow", None), ("deny", 503)])
async def test_an_unreachable_store_admits_or_refuses_as_configured(estimator: Estimator, on_error: str, status: int | None) -> None:
    stage = LimitsStage(Settings(default=TenantPolicy(per_tenant=Rates(10)), on_store_error=on_error), _DownStore(), estimator)
    ctx = _ctx()
    if status is None:
        assert await stage.on_request(ctx) is None and "limits:store_unavailable" in ctx.decisions
    else:
        with pytest.raises(GatewayError) as raised:
            await stage.on_request(ctx)
        assert raised.value.status == status


@pytest.mark.parametrize(("seconds", "text"), [(0.0123, "13ms"), (1.5, "1.5s"), (59.9999, "60s"), (360, "6m0s"), (90.4, "1m30s")])
def test_reset_times_read_like_openais(seconds: float, text: str) -> None:
    assert duration(seconds) == text


async def test_a_prompt_cost_control_counted_is_not_counted_again(estimator: Estimator) -> None:
    from extproc.cost.estimate import EndpointEstimate, Estimate

    stage = _stage(estimator, TenantPolicy(per_tenant=Rates(tokens_per_minute=10_000)))
    ctx = _ctx(max_tokens=100)
    ctx.estimate = Estimate("gpt-4o-mini", [EndpointEstimate("gpt-4o-mini", "openai", 1234, 100, None, None)])
    await stage.on_request(ctx)
    assert ctx.client_headers["x-ratelimit-remaining-tokens"] == str(10_000 - 1234 - 100)


# --- budgets that hold under concurrency ------------------------------------------------------

CHAIN = ModelRoute(
    name="smart",
    cluster="c",
    endpoints=(
        Endpoint(model="openai/gpt-4o-mini", cluster="c", address="a", priority=0, provider="openai"),
        Endpoint(model="openai/gpt-4o", cluster="c", address="b", priority=1, provider="openai"),
    ),
)


def _budgeted(estimator: Estimator, usd_per_day: float, store: MemoryLimits | None = None) -> LimitsStage:
    settings = Settings(default=TenantPolicy(budget=Budget(usd_per_day=usd_per_day)))
    return LimitsStage(settings, store or MemoryLimits(), estimator)


async def test_requests_in_flight_hold_their_worst_case_so_the_budget_is_not_overrun(estimator: Estimator) -> None:
    # Each request may cost 0.15e-6 * ~9 + 0.6e-6 * 1000 = ~0.0006 USD on gpt-4o-mini.
    stage = _budgeted(estimator, usd_per_day=0.002)
    admitted, refusals = [], []
    for _ in range(10):  # all in flight at once: none has been answered yet
        ctx = _ctx(max_tokens=1000)
        try:
            await stage.on_request(ctx)
            admitted.append(ctx)
        except GatewayError as error:
            refusals.append(error)
    assert len(admitted) == 4  # 0, 0.0006, 0.0012, 0.0018 held before each: below 0.002
    refusal = refusals[0]
    assert refusal.status == 429 and refusal.code == "budget_exceeded" and refusal.type == "insufficient_quota"
    assert "held by requests in flight" in refusal.message and refusal.headers["retry-after"] == "1"
    # As they finish, the real cost is charged and the rest of the hold comes back.
    for ctx in admitted:
        ctx.usage, ctx.cost_usd = Usage(prompt_tokens=9, completion_tokens=20), 0.00002
        await stage.on_response(ctx)
    assert await stage.on_request(_ctx(max_tokens=1000)) is None


async def test_the_hold_is_priced_on_the_dearest_endpoint_the_request_may_reach(estimator: Estimator) -> None:
    store = MemoryLimits()
    stage = _budgeted(estimator, usd_per_day=100.0, store=store)
    ctx = RequestContext(tenant="acme", route=CHAIN, body={"model": "smart", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000})
    await stage.on_request(ctx)
    whole_chain = (await store.spend("acme")).reserved
    assert whole_chain == pytest.approx(10e-6 * 1000, rel=0.05)  # gpt-4o's output price
    capped = RequestContext(tenant="acme", route=CHAIN, body=ctx.body, max_priority=0)  # cost control stopped the chain at level 0
    await stage.on_request(capped)
    assert (await store.spend("acme")).reserved - whole_chain == pytest.approx(0.6e-6 * 1000, rel=0.05)


async def test_without_max_tokens_the_hold_is_what_the_model_may_write(estimator: Estimator) -> None:
    store = MemoryLimits()
    stage = _budgeted(estimator, usd_per_day=100.0, store=store)
    await stage.on_request(_ctx(max_tokens=None))
    most = estimator.max_output_tokens("openai/gpt-4o-mini")
    assert most is not None and (await store.spend("acme")).reserved >= most * 0.6e-6


async def test_a_failed_or_abandoned_request_releases_its_hold_and_is_settled_once(estimator: Estimator) -> None:
    store = MemoryLimits()
    stage = _budgeted(estimator, usd_per_day=1.0, store=store)
    ctx = _ctx()
    await stage.on_request(ctx)
    assert (await store.spend("acme")).reserved > 0
    await stage.on_response(ctx)  # no usage, no cost: the provider failed or the client left first
    await stage.on_response(ctx)
    spend = await store.spend("acme")
    assert spend.reserved == 0 and spend.day == 0


async def test_a_cache_hit_takes_a_request_but_no_tokens_and_no_spend(estimator: Estimator) -> None:
    from extproc.cache.store import Entry

    store = MemoryLimits()
    policy = TenantPolicy(per_tenant=Rates(requests_per_minute=2, tokens_per_minute=10_000), budget=Budget(usd_per_day=1.0))
    stage = LimitsStage(Settings(default=policy), store, estimator)
    ctx = _ctx(max_tokens=500)
    await stage.on_request(ctx)
    ctx.cache_hit = Entry(payload={}, created=time.time(), served_model="gpt-4o-mini", provider="openai")
    ctx.usage, ctx.cost_usd = Usage(prompt_tokens=9, completion_tokens=41), 0.0
    await stage.on_response(ctx)
    assert int(ctx.client_headers["x-ratelimit-remaining-tokens"]) >= 9_999
    assert ctx.client_headers["x-ratelimit-remaining-requests"] == "1"
    spend = await store.spend("acme")
    assert spend.day == 0 and spend.reserved == 0


async def test_a_store_that_fails_to_settle_is_logged_not_raised(estimator: Estimator, caplog: pytest.LogCaptureFixture) -> None:
    class _SettleFails(MemoryLimits):
        async def settle(self, changes, charge=None):  # noqa: ANN001, ANN202
            raise StoreUnavailable("sqlite limits var/limits.sqlite3: OperationalError")

    stage = _budgeted(estimator, usd_per_day=1.0, store=_SettleFails())
    ctx = _ctx()
    await stage.on_request(ctx)
    ctx.cost_usd = 0.001
    await stage.on_response(ctx)
    assert "could not settle limits" in caplog.text
