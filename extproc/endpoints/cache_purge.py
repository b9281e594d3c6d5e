"""`DELETE /v1/gateway/cache`: forget every cached answer of the caller's tenant.

A tenant purges its own entries only. Operators purge any tenant's with
`llm-gateway cache purge --tenant NAME` (Redis) or by restarting the service
(in-process store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from extproc.auth import Access

if TYPE_CHECKING:
    from extproc.context import RequestContext
    from extproc.processor import Gateway


class CachePurge:
    """Purge the calling tenant's cache entries."""

    method = "DELETE"
    path = "/v1/gateway/cache"
    content_type = "application/json"
    access = Access.TENANT

    async def answer(self, gateway: "Gateway", ctx: "RequestContext") -> bytes:
        """How many entries were forgotten (0 when no route caches). With the in-process store,
        only the service process that took the request forgets its own."""
        deleted = await gateway.cache.purge(ctx.tenant) if gateway.cache is not None else 0
        return orjson.dumps({"object": "gateway.cache.purge", "tenant": ctx.tenant, "deleted": deleted})
