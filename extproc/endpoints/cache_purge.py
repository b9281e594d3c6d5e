"""`DELETE /v1/gateway/cache`: forget every cached answer of the caller's tenant.

A tenant purges its own entries only. Operators purge any tenant's with
`llm-gateway cache purge --tenant NAME` (Redis) or by restarting the service
(in-process store).
"""

from __future__ import annotations

from typing import Protocol

import orjson

from extproc.context import RequestContext
from extproc.tenancy.auth import Access


class Purger(Protocol):
    """What forgets a tenant's cached answers (the cache stage)."""

    async def purge(self, tenant: str) -> int:
        """Forget every entry of `tenant`; how many there were."""
        ...


class CachePurge:
    """Purge the calling tenant's cache entries."""

    method = "DELETE"
    path = "/v1/gateway/cache"
    content_type = "application/json"
    access = Access.TENANT

    def __init__(self, cache: Purger | None) -> None:
        self._cache = cache

    async def answer(self, ctx: RequestContext) -> bytes:
        """How many entries were forgotten (0 when no route caches). With the in-process store,
        only the service process that took the request forgets its own."""
        deleted = await self._cache.purge(ctx.tenant) if self._cache is not None else 0
        return orjson.dumps({"object": "gateway.cache.purge", "tenant": ctx.tenant, "deleted": deleted})
