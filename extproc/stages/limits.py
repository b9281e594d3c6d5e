"""Limits: requests and tokens per minute, stacked per tenant, key and model; spend budgets.

Before the call a request takes one request and a token reservation (its
prompt, counted with LiteLLM's counter, plus `max_tokens`, or
`DEFAULT_COMPLETION_RESERVE` when it sets none) from every bucket that
applies. After the answer the reservation is settled against the real usage.
Every answer carries the state of the tightest buckets in the headers OpenAI's
clients read (`x-ratelimit-*-requests`, `x-ratelimit-*-tokens`); a refusal is
a 429 with `Retry-After` too.

Budgets are checked before the call against the spend so far and charged
after it with the answer's cost: one request in flight may overshoot a
budget by its own cost.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone

from redis.exceptions import RedisError

from ..context import RequestContext
from ..decisions import Reply
from ..errors import GatewayError
from ..estimate import Estimator
from ..limits import REQUESTS, TOKENS, Admission, Bucket, Level, Limits, Spend, bucket_key
from ..settings import Rates, Settings

log = logging.getLogger(__name__)

DEFAULT_COMPLETION_RESERVE = 1024
RETRY_AFTER_HEADER = "retry-after"


class LimitsStage:
    """Admit a request within its tenant's, key's and model's limits and budget, or answer 429."""

    name = "limits"

    def __init__(self, settings: Settings, store: Limits, estimator: Estimator) -> None:
        self._settings = settings
        self._store = store
        self._estimator = estimator

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Check the budget, then take from every bucket at once."""
        route = ctx.route
        assert route is not None and ctx.body is not None, "routing runs first"
        policy = self._settings.policy_for(ctx.tenant)
        budget = policy.budget
        buckets = self._buckets(ctx, policy.per_tenant, policy.per_key, self._settings.model_rates.get(route.name))
        reserve = self._reservation(ctx) if any(b.unit == TOKENS for b in buckets) else 0
        for bucket in buckets:
            if bucket.unit == TOKENS and reserve > bucket.capacity:
                raise _too_large(ctx.tenant, bucket, reserve)
        costs = [(b, 1.0 if b.unit == REQUESTS else float(reserve)) for b in buckets]
        try:
            if budget.usd_per_day is not None or budget.usd_per_month is not None:
                spend = await self._store.spend(ctx.tenant)
                _check_budget(ctx.tenant, spend, budget.usd_per_day, budget.usd_per_month)
            if not buckets:
                return None
            admission = await self._store.take(costs)
        except GatewayError:
            raise
        except (OSError, RedisError) as exc:  # the shared store is unreachable or timed out
            return self._store_failed(ctx, exc)
        if not admission.admitted:
            raise _limited(ctx.tenant, admission, reserve)
        ctx.reservation = [(b, float(reserve)) for b in buckets if b.unit == TOKENS]
        ctx.client_headers.update(rate_limit_headers(admission.levels))
        ctx.decisions.append(f"limits:reserved:{reserve}" if ctx.reservation else "limits:admitted")
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Settle the reservation with the real usage and charge the answer's cost."""
        try:
            if ctx.reservation:
                used = ctx.usage.total_tokens if ctx.usage is not None else 0
                levels = await self._store.settle([(b, reserved - used) for b, reserved in ctx.reservation])
                ctx.reservation = []
                ctx.client_headers.update(rate_limit_headers(levels))
            if ctx.cost_usd:
                await self._store.add_spend(ctx.tenant, ctx.cost_usd)
        except (OSError, RedisError) as exc:
            log.warning("request %s: could not settle limits: %s", ctx.request_id, type(exc).__name__)

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

    def _reservation(self, ctx: RequestContext) -> int:
        """Prompt tokens plus the most the answer may use (max_tokens, capped by what the model can write)."""
        route, body = ctx.route, ctx.body
        assert route is not None and body is not None
        model = route.endpoints[0].model if route.endpoints else route.name
        # Counted once per request: cost control may have counted it on the same (first) endpoint.
        prompt = ctx.estimate.prompt_tokens if ctx.estimate is not None else self._estimator.prompt_tokens(model, body, ctx.kind)
        if ctx.kind == "embeddings":
            return max(prompt, 1)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            limit = DEFAULT_COMPLETION_RESERVE
        # A max_tokens beyond what the model can write is the provider's 400 to give, not a 429.
        ceiling = self._estimator.max_output_tokens(model)
        if ceiling is not None:
            limit = min(limit, ceiling)
        n = body.get("n")
        return prompt + limit * (n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1)

    def _store_failed(self, ctx: RequestContext, exc: Exception) -> Reply | None:
        log.error("request %s: limits store unavailable (%s)", ctx.request_id, type(exc).__name__)
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


def _check_budget(tenant: str, spend: Spend, per_day: float | None, per_month: float | None) -> None:
    now = datetime.now(timezone.utc)
    if per_day is not None and spend.day >= per_day:
        reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        raise _over_budget(tenant, "daily", per_day, spend.day, reset - now)
    if per_month is not None and spend.month >= per_month:
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        reset = (first + timedelta(days=32)).replace(day=1)
        raise _over_budget(tenant, "monthly", per_month, spend.month, reset - now)


def _over_budget(tenant: str, period: str, budget: float, spent: float, left: timedelta) -> GatewayError:
    return GatewayError(
        429,
        f"Tenant {tenant!r} has used its {period} budget: ${spent:.4f} of ${budget:.2f}. "
        "It resets at the start of the next UTC "
        + ("day." if period == "daily" else "month."),
        code="budget_exceeded",
        type="insufficient_quota",
        headers={RETRY_AFTER_HEADER: str(max(1, math.ceil(left.total_seconds())))},
    )

