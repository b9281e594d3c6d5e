"""`GET /v1/gateway/limits`: the caller's tenant, its limits, budget and spend so far.

Answered to the key's own tenant only, so a tenant can watch its spend
without seeing anyone else's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..processor import Gateway


class TenantLimits:
    """The calling tenant's limits and current spend."""

    method = "GET"
    path = "/v1/gateway/limits"
    content_type = "application/json"
    loopback_only = False

    async def answer(self, gateway: "Gateway", ctx: "RequestContext") -> bytes:
        """Limits as configured (null: unlimited) and spend in USD for the current UTC day and month."""
        settings = gateway.settings
        policy = settings.policy_for(ctx.tenant)
        spend = await gateway.limits.spend(ctx.tenant)
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
            }
        )
