"""Cache: answer a request the tenant has asked before on the same route, without a provider.

On the way in the stage decides hit, miss or bypass (the client's
`Cache-Control: no-store` / `no-cache`, a temperature above the route's
bound). A hit is replayed by the processor in the client's format, buffered or
as an SSE stream, through the output policy of this request. On the way out a
miss stores the provider's answer, never an error.
"""

from __future__ import annotations

import time

from .. import metrics
from ..cache.keys import exact_key
from ..cache.policy import DEFAULT_TEMPERATURE, CachePolicies
from ..cache.store import CacheStore, Entry
from ..context import RequestContext
from ..decisions import Reply

CACHE_HEADER = "x-gateway-cache"
AGE_HEADER = "x-gateway-cache-age"


class CacheStage:
    """Look the request up; store its answer when it was a miss."""

    name = "cache"

    def __init__(self, policies: CachePolicies, store: CacheStore) -> None:
        self._policies = policies
        self.store = store

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Set `ctx.cache_hit` (the processor replays it) or `ctx.cache_key` (to store the answer)."""
        if ctx.route is None or ctx.kind != "chat" or ctx.dry_run or ctx.body is None:
            return None
        policy = self._policies.for_model(ctx.route.name)
        if policy.mode == "off":
            return None
        directives = {d.strip().lower() for d in ctx.headers.get("cache-control", "").split(",")}
        temperature = ctx.body.get("temperature")
        temperature = DEFAULT_TEMPERATURE if not isinstance(temperature, (int, float)) else temperature
        if "no-store" in directives:
            self._outcome(ctx, "bypass", "no-store")
            return None
        if temperature > policy.max_temperature:
            self._outcome(ctx, "bypass", "temperature")
            return None
        key = exact_key(ctx.tenant, ctx.route.name, ctx.body)
        if "no-cache" not in directives:
            entry = await self.store.get(ctx.tenant, key)
            if entry is not None:
                ctx.cache_hit = entry
                self._outcome(ctx, "hit", "exact")
                return None
        ctx.cache_key, ctx.cache_ttl = key, policy.ttl_seconds
        self._outcome(ctx, "miss", "no-cache" if "no-cache" in directives else "exact")
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Store a miss's complete, successful answer."""
        if ctx.cache_hit is not None:
            usage = ctx.usage
            metrics.record_cache_hit(
                route=ctx.route.name if ctx.route else None,
                tenant=ctx.tenant,
                tokens=(usage.prompt_tokens + usage.completion_tokens) if usage else 0,
                usd=ctx.cache_hit.cost_usd or 0.0,
            )
            return
        answer = ctx.cache_answer
        if ctx.cache_key is None or answer is None or ctx.status != 200 or ctx.error is not None:
            return
        endpoint = ctx.endpoint
        entry = Entry(
            payload=answer,
            created=time.time(),
            served_model=endpoint.upstream_model if endpoint else "",
            provider=endpoint.provider if endpoint else "",
            cost_usd=ctx.cost_usd,
        )
        await self.store.put(ctx.tenant, ctx.cache_key, entry, ctx.cache_ttl)

    @staticmethod
    def _outcome(ctx: RequestContext, outcome: str, why: str) -> None:
        ctx.cache_outcome = outcome
        ctx.client_headers[CACHE_HEADER] = outcome
        ctx.decisions.append(f"cache:{outcome}:{why}")
        metrics.record_cache(route=ctx.route.name if ctx.route else None, tenant=ctx.tenant, outcome=outcome)
