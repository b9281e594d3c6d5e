"""Cost control before the call: dry runs, a per-request maximum cost, and fallback cost caps.

A client asks for either with a request header (`llm-gateway-dry-run: true`,
`llm-gateway-max-cost-usd: 0.05`) or with the body extension field
`x_gateway: {"dry_run": true, "max_cost_usd": 0.05}`, which the gateway
removes before the provider sees the body. (`x-gateway-*` headers are the
gateway's own and Envoy strips them from clients, hence the other prefix.)

On a fallback chain (a cluster with several priority levels) the maximum
applies to every level, and a route's `fallback_max_cost_usd` to every level
after the first: the chain stops before the first level that could cost more.
Envoy makes the attempts, so the stage caps them with `x-envoy-max-retries`,
and tells the upstream filter the last affordable level (metadata
`max_priority`) in case an ejected level shifts attempts down the chain.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from extproc.config.catalog import ModelRoute
from extproc.context import RequestContext
from extproc.cost.estimate import Estimate, Estimator
from extproc.cost.pricing import format_usd
from extproc.decisions import Reply
from extproc.errors import GatewayError
from extproc.stages.base import Stage

DRY_RUN_HEADER = "llm-gateway-dry-run"
MAX_COST_HEADER = "llm-gateway-max-cost-usd"
ESTIMATE_HEADER = "x-gateway-estimated-max-cost-usd"
# Envoy's router takes the number of retries from this request header.
MAX_RETRIES_HEADER = "x-envoy-max-retries"

_TRUE = ("1", "true", "yes", "on")


class CostControlStage(Stage):
    """Answer dry runs with the estimate; refuse requests whose estimate exceeds the client's maximum."""

    name = "cost_control"

    def __init__(self, estimator: Estimator) -> None:
        self._estimator = estimator

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Estimate only when asked to: counting tokens costs time on every request."""
        route = ctx.route
        assert route is not None and ctx.body is not None, "routing runs first"
        dry_run = ctx.dry_run or _dry_run(ctx)
        max_cost = _max_cost(ctx)
        fallback_cap = route.fallback_max_cost_usd if len(route.priorities) > 1 else None
        if not dry_run and max_cost is None and fallback_cap is None:
            return None
        estimate = ctx.estimate = self._estimator.estimate(route, ctx.body, ctx.kind)
        if dry_run:
            bound = estimate.max_cost_usd
            headers = {ESTIMATE_HEADER: format_usd(bound)} if bound is not None else {}
            ctx.decisions.append("dry_run")
            return Reply.json(200, orjson.dumps(estimate.as_dict()), headers)
        if max_cost is not None:
            _check_primary(route, estimate, max_cost)
        levels = _affordable_levels(route, estimate, max_cost, fallback_cap)
        if len(levels) < len(route.priorities):
            ctx.max_priority = levels[-1]
            ctx.upstream_headers[MAX_RETRIES_HEADER] = str(len(levels) - 1)
            ctx.decisions.append(f"fallback_capped:{len(levels)}_of_{len(route.priorities)}")
        bounds = [bound for level in levels for bound in _bounds_at(route, estimate, level)]
        if all(b is not None for b in bounds):
            ctx.client_headers[ESTIMATE_HEADER] = format_usd(max(b for b in bounds if b is not None))
        if max_cost is not None:
            ctx.decisions.append("cost_checked")
        return None


def _check_primary(route: ModelRoute, estimate: Estimate, max_cost: float) -> None:
    """Refuse when the first level may already cost more than the client allows."""
    bounds = _bounds_at(route, estimate, route.priorities[0])
    if any(b is None for b in bounds):
        raise GatewayError(
            400,
            f"The cost of this request cannot be bounded for {route.name!r} (no price or no output "
            f"limit known), so the maximum cost of {max_cost:g} USD cannot be enforced. Set `max_tokens`.",
            code="cost_limit_exceeded",
            param="max_tokens",
        )
    bound = max(b for b in bounds if b is not None)
    if bound > max_cost:
        raise GatewayError(
            400,
            f"This request may cost up to {format_usd(bound)} USD on {route.name!r} "
            f"({estimate.prompt_tokens} prompt tokens plus the completion limit), more than the maximum "
            f"of {max_cost:g} USD it allows. Lower `max_tokens`, shorten the prompt, or raise the maximum.",
            code="cost_limit_exceeded",
        )


def _affordable_levels(
    route: ModelRoute, estimate: Estimate, max_cost: float | None, fallback_cap: float | None
) -> list[int]:
    """The priority levels the chain may use: the first, then each next one whose bound fits the caps."""
    caps = [c for c in (max_cost, fallback_cap) if c is not None]
    levels = route.priorities
    allowed = list(levels[:1])
    for level in levels[1:]:
        # An unknown price could be anything: it never fits a cap.
        if any(b is None or b > min(caps) for b in _bounds_at(route, estimate, level)):
            break
        allowed.append(level)
    return allowed


def _bounds_at(route: ModelRoute, estimate: Estimate, level: int) -> list[float | None]:
    """The estimated maximum cost on each endpoint of one priority level (estimates follow route.endpoints)."""
    return [e.max_cost_usd for e, endpoint in zip(estimate.endpoints, route.endpoints) if endpoint.priority == level]


def _dry_run(ctx: RequestContext) -> bool:
    if ctx.headers.get(DRY_RUN_HEADER, "").strip().lower() in _TRUE:
        return True
    return ctx.gateway_options.get("dry_run") is True


def _max_cost(ctx: RequestContext) -> float | None:
    header = ctx.headers.get(MAX_COST_HEADER)
    value: Any = header if header is not None else ctx.gateway_options.get("max_cost_usd")
    if value is None:
        return None
    param = MAX_COST_HEADER if header is not None else "x_gateway.max_cost_usd"
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise GatewayError(400, f"`{param}` must be a number of USD, at least 0; got {value!r}.", code="invalid_request", param=param)
    return number
