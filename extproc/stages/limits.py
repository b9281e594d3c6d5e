"""Limits: requests and tokens per minute, stacked per tenant, key and model; spend budgets that hold.

Before the call, in one atomic step of the store, a request takes one request
and a token reservation from every bucket that applies (its prompt, counted
with LiteLLM's counter, plus `max_tokens`, or `DEFAULT_COMPLETION_RESERVE`
when it sets none), and holds its worst-case cost against its tenant's
budgets: its prompt and largest completion priced on the dearest endpoint it
may reach. It is admitted only while the spend so far plus the holds of the
requests in flight are below the budget, so concurrency cannot overshoot a
budget by more than one request's worst case.

After the answer, or its failure, or the client's departure (the processor
runs every stage's response side then too), the reservation is settled on
the real usage and the hold is released for the real cost. A cache hit
settles as nothing used: it takes a request, but no tokens and no spend.

Every answer carries the state of the tightest buckets in the headers OpenAI's
clients read (`x-ratelimit-*-requests`, `x-ratelimit-*-tokens`); a refusal is
a 429 with `Retry-After` too.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from extproc.context import RequestContext
from extproc.cost.estimate import Estimator
from extproc.cost.pricing import format_usd
from extproc.decisions import Reply
from extproc.errors import GatewayError, StoreUnavailable
from extproc.stages.base import Stage
from extproc.tenancy.limits import (
    DAY,
    REQUESTS,
    TOKENS,
    Admission,
    Bucket,
    Charge,
    Hold,
    Level,
    Limits,
    Reservation,
    bucket_key,
)
from extproc.tenancy.settings import Budget, Rates, Settings

log = logging.getLogger(__name__)

DEFAULT_COMPLETION_RESERVE = 1024
RETRY_AFTER_HEADER = "retry-after"
# A budget held by requests in flight frees up as they finish: try again soon.
IN_FLIGHT_RETRY_AFTER_S = 1


class LimitsStage(Stage):
    """Admit a request within its tenant's, key's and model's limits and budget, or answer 429."""

    name = "limits"

    def __init__(self, settings: Settings, store: Limits, estimator: Estimator) -> None:
        self._settings = settings
        self._store = store
        self._estimator = estimator

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Take from every bucket and hold the worst case against the budgets, at once."""
        route = ctx.route
        assert route is not None and ctx.body is not None, "routing runs first"
        policy = self._settings.policy_for(ctx.tenant)
        buckets = self._buckets(ctx, policy.per_tenant, policy.per_key, self._settings.model_rates.get(route.name))
        needs_prompt = any(b.unit == TOKENS for b in buckets) or policy.budget != Budget()
        prompt = self._prompt_tokens(ctx) if needs_prompt else 0
        reserve = self._reservation(ctx, prompt) if any(b.unit == TOKENS for b in buckets) else 0
        for bucket in buckets:
            if bucket.unit == TOKENS and reserve > bucket.capacity:
                raise _too_large(ctx.tenant, bucket, reserve)
        hold = self._hold(ctx, policy.budget, prompt)
        if not buckets and hold is None:
            return None
        costs = [(b, 1.0 if b.unit == REQUESTS else float(reserve)) for b in buckets]
        try:
            admission = await self._store.take(costs, hold)
        except StoreUnavailable as exc:
            return self._store_failed(ctx, exc)
        if not admission.admitted:
            if admission.over_budget is not None and hold is not None:
                raise _over_budget(ctx.tenant, admission, hold)
            raise _limited(ctx.tenant, admission, reserve)
        ctx.reservation = Reservation([(b, float(reserve)) for b in buckets if b.unit == TOKENS], admission.hold_id)
        if admission.levels:
            ctx.client_headers.update(rate_limit_headers(admission.levels))
        ctx.decisions.append(f"limits:reserved:{reserve}" if reserve else "limits:admitted")
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Give back unused tokens, release the hold and charge the answer's cost (a cache hit used nothing)."""
        reservation, ctx.reservation = ctx.reservation, None  # settled once, even if called again
        hit = ctx.cache_hit is not None
        cost = 0.0 if hit else ctx.cost_usd or 0.0
        tokens = reservation.tokens if reservation is not None else []
        hold_id = reservation.hold_id if reservation is not None else None
        if not tokens and hold_id is None and not cost:
            return
        used = 0 if hit or ctx.usage is None else ctx.usage.total_tokens
        charge = Charge(ctx.tenant, cost, hold_id) if hold_id is not None or cost else None
        try:
            levels = await self._store.settle([(b, reserved - used) for b, reserved in tokens], charge)
        except StoreUnavailable as exc:
            log.warning("request %s: could not settle limits: %s", ctx.request_id, exc)
            return
        if levels:
            ctx.client_headers.update(rate_limit_headers(levels))

    def _buckets(self, ctx: RequestContext, tenant: Rates, key: Rates, model: Rates | None) -> list[Bucket]:
        scopes: list[tuple[str, str, Rates]] = [("tenant", "all", tenant)]
        if ctx.key_id is not None:
            scopes.append(("key", ctx.key_id, key))
        if model is not None and ctx.route is not None:
            scopes.append(("model", ctx.route.name, model))
        buckets = []
        for scope, name, rates in scopes:
            for unit, capacity in ((REQUESTS, rates.requests_per_minute), (TOKENS, rates.tokens_per_minute)):
                if capacity is not None:
                    buckets.append(Bucket(bucket_key(scope, ctx.tenant, name, unit), float(capacity), unit, scope))
        return buckets

    def _prompt_tokens(self, ctx: RequestContext) -> int:
        """Counted once per request: cost control may have counted it on the same (first) endpoint."""
        route, body = ctx.route, ctx.body
        assert route is not None and body is not None
        if ctx.estimate is not None:
            return ctx.estimate.prompt_tokens
        model = route.endpoints[0].model if route.endpoints else route.name
        return self._estimator.prompt_tokens(model, body, ctx.kind)

    def _reservation(self, ctx: RequestContext, prompt: int) -> int:
        """Prompt tokens plus the most the answer may use (max_tokens, capped by what the model can write)."""
        route, body = ctx.route, ctx.body
        assert route is not None and body is not None
        if ctx.kind == "embeddings":
            return max(prompt, 1)
        model = route.endpoints[0].model if route.endpoints else route.name
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            limit = DEFAULT_COMPLETION_RESERVE
        # A max_tokens beyond what the model can write is the provider's 400 to give, not a 429.
        ceiling = self._estimator.max_output_tokens(model)
        if ceiling is not None:
            limit = min(limit, ceiling)
        n = body.get("n")
        return prompt + limit * (n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1)

    def _hold(self, ctx: RequestContext, budget: Budget, prompt: int) -> Hold | None:
        """The request's worst case against its tenant's budgets (None when it has none)."""
        if budget == Budget():
            return None
        route, body = ctx.route, ctx.body
        assert route is not None and body is not None
        # Any endpoint up to the last level cost control lets the chain reach may serve it.
        worst = self._estimator.worst_case_usd(route, body, ctx.kind, prompt, ctx.max_priority, DEFAULT_COMPLETION_RESERVE)
        return Hold(ctx.tenant, worst, budget.usd_per_day, budget.usd_per_month, self._settings.hold_ttl_seconds)

    def _store_failed(self, ctx: RequestContext, exc: StoreUnavailable) -> Reply | None:
        log.error("request %s: limits store unavailable (%s)", ctx.request_id, exc)
        if self._settings.on_store_error == "deny":
            raise GatewayError(503, "The gateway cannot check rate limits right now; retry shortly.", code="limits_unavailable")
        ctx.decisions.append("limits:store_unavailable")
        return None


def rate_limit_headers(levels: tuple[Level, ...]) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers from the tightest request and token buckets."""
    headers: dict[str, str] = {}
    for unit in (REQUESTS, TOKENS):
        mine = [level for level in levels if level.bucket.unit == unit]
        if not mine:
            continue
        tightest = min(mine, key=lambda level: (level.remaining, -level.seconds_to_full))
        headers[f"x-ratelimit-limit-{unit}"] = str(int(tightest.bucket.capacity))
        headers[f"x-ratelimit-remaining-{unit}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{unit}"] = duration(tightest.seconds_to_full)
    return headers


def duration(seconds: float) -> str:
    """A reset time the way OpenAI writes it: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest):d}s"


def _limited(tenant: str, admission: Admission, reserve: int) -> GatewayError:
    short = admission.short[0]
    bucket = short.bucket
    asked = 1 if bucket.unit == REQUESTS else reserve
    wait = max(1, math.ceil(admission.retry_after))
    per = {"tenant": f"tenant {tenant!r}", "key": "this API key", "model": f"tenant {tenant!r} on this model"}[bucket.scope]
    message = (
        f"Rate limit reached for {per} on {bucket.unit} per minute: limit {int(bucket.capacity)}, "
        f"remaining {short.remaining}, requested {asked}. Please try again in {wait}s."
    )
    headers = {RETRY_AFTER_HEADER: str(wait), **rate_limit_headers(admission.levels)}
    return GatewayError(429, message, code="rate_limit_exceeded", type=bucket.unit, headers=headers)


def _too_large(tenant: str, bucket: Bucket, reserve: int) -> GatewayError:
    return GatewayError(
        429,
        f"Request too large for tenant {tenant!r}: it may use {reserve} tokens (prompt plus max_tokens), "
        f"above the limit of {int(bucket.capacity)} tokens per minute. Send a shorter prompt or a lower max_tokens.",
        code="rate_limit_exceeded",
        type=TOKENS,
    )


def _over_budget(tenant: str, admission: Admission, hold: Hold) -> GatewayError:
    """The 429 for a budget reached by the spend alone (until the period ends) or with the holds of
    requests in flight (until they finish)."""
    spend = admission.spend
    assert spend is not None
    daily = admission.over_budget == DAY
    period = "daily" if daily else "monthly"
    budget = hold.per_day if daily else hold.per_month
    spent = spend.day if daily else spend.month
    assert budget is not None
    if spent >= budget:
        now = datetime.now(UTC)
        if daily:
            reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            reset = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
        retry_after = max(1, math.ceil((reset - now).total_seconds()))
        message = (
            f"Tenant {tenant!r} has used its {period} budget: ${format_usd(spent)} of ${format_usd(budget)}. "
            f"It resets at the start of the next UTC {'day' if daily else 'month'}."
        )
    else:
        retry_after = IN_FLIGHT_RETRY_AFTER_S
        message = (
            f"Tenant {tenant!r} is at its {period} budget of ${format_usd(budget)}: ${format_usd(spent)} spent and "
            f"${format_usd(spend.reserved)} held by requests in flight, each for the most it may cost. Retry when they "
            "finish; a lower max_tokens holds less."
        )
    return GatewayError(
        429, message, code="budget_exceeded", type="insufficient_quota", headers={RETRY_AFTER_HEADER: str(retry_after)}
    )
