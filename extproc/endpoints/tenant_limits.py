"""`GET /v1/gateway/limits`: the caller's tenant, its limits, budget and spend so far.

Answered to the key's own tenant only, so a tenant can watch its spend
without seeing anyone else's.
"""

from __future__ import annotations

from dataclasses import asdict

import orjson

from extproc.context import RequestContext
from extproc.errors import GatewayError, StoreUnavailable
from extproc.tenancy.auth import Access
from extproc.tenancy.limits import Limits
from extproc.tenancy.settings import Settings


class TenantLimits:
    """The calling tenant's limits and current spend."""

    method = "GET"
    path = "/v1/gateway/limits"
    content_type = "application/json"
    access = Access.TENANT

    def __init__(self, settings: Settings, limits: Limits) -> None:
        self._settings = settings
        self._limits = limits

    async def answer(self, ctx: RequestContext) -> bytes:
        """Limits as configured (null: unlimited), spend in USD for the current UTC day and month, and what
        requests in flight hold."""
        settings = self._settings
        policy = settings.policy_for(ctx.tenant)
        try:
            spend = await self._limits.spend(ctx.tenant)
        except StoreUnavailable:
            raise GatewayError(503, "The gateway cannot read spend right now (its store does not answer); retry shortly.", code="limits_unavailable") from None
        return orjson.dumps(
            {
                "object": "gateway.limits",
                "tenant": ctx.tenant,
                "key_id": ctx.key_id,
                "limits": {
                    "per_tenant": asdict(policy.per_tenant),
                    "per_key": asdict(policy.per_key),
                    "per_model": {name: asdict(rates) for name, rates in sorted(settings.model_rates.items())},
                },
                "budget": asdict(policy.budget),
                "spend_usd": {"day": round(spend.day, 10), "month": round(spend.month, 10)},
                # The worst cases the tenant's requests in flight hold against its budgets.
                "reserved_usd": round(spend.reserved, 10),
            }
        )
