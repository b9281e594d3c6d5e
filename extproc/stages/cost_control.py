"""Cost control before the call: dry runs and a per-request maximum cost.

A client asks for either with a request header (`llm-gateway-dry-run: true`,
`llm-gateway-max-cost-usd: 0.05`) or with the body extension field
`x_gateway: {"dry_run": true, "max_cost_usd": 0.05}`, which the gateway
removes before the provider sees the body. (`x-gateway-*` headers are the
gateway's own and Envoy strips them from clients, hence the other prefix.)
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from ..context import RequestContext
from ..decisions import Reply
from ..errors import GatewayError
from ..estimate import Estimator
from .accounting import format_usd

DRY_RUN_HEADER = "llm-gateway-dry-run"
MAX_COST_HEADER = "llm-gateway-max-cost-usd"
ESTIMATE_HEADER = "x-gateway-estimated-max-cost-usd"

_TRUE = ("1", "true", "yes", "on")


class CostControlStage:
    """Answer dry runs with the estimate; refuse requests whose estimate exceeds the client's maximum."""

    name = "cost_control"

    def __init__(self, estimator: Estimator) -> None:
        self._estimator = estimator

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Estimate only when asked to: counting tokens costs time on every request."""
        dry_run = ctx.dry_run or _dry_run(ctx)
        max_cost = _max_cost(ctx)
        if not dry_run and max_cost is None:
            return None
        assert ctx.route is not None and ctx.body is not None, "routing runs first"
        estimate = self._estimator.estimate(ctx.route, ctx.body, ctx.kind)
        bound = estimate.max_cost_usd
        headers = {ESTIMATE_HEADER: format_usd(bound)} if bound is not None else {}
        if dry_run:
            ctx.decisions.append("dry_run")
            return Reply.json(200, orjson.dumps(estimate.as_dict()), headers)
        assert max_cost is not None
        if bound is None:
            raise GatewayError(
                400,
                f"The cost of this request cannot be bounded for {ctx.route.name!r} (no price or no output "
                f"limit known), so the maximum cost of {max_cost:g} USD cannot be enforced. Set `max_tokens`.",
                code="cost_limit_exceeded",
                param="max_tokens",
            )
        if bound > max_cost:
            ctx.decisions.append("cost_limit_exceeded")
            raise GatewayError(
                400,
                f"This request may cost up to {format_usd(bound)} USD on {ctx.route.name!r} "
                f"({estimate.prompt_tokens} prompt tokens plus the completion limit), more than the maximum "
                f"of {max_cost:g} USD it allows. Lower `max_tokens`, shorten the prompt, or raise the maximum.",
                code="cost_limit_exceeded",
            )
        ctx.client_headers[ESTIMATE_HEADER] = format_usd(bound)
        ctx.decisions.append("cost_checked")
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Nothing to do on the way back."""


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
