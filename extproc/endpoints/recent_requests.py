"""`GET /v1/gateway/requests`: the caller's tenant's recent requests, newest first.

From this service process's ring buffer (`telemetry/recent.py`): with several service
processes each lists the requests it served. Only the key's own tenant is ever listed, and
only figures (model, status, tokens, cost, cache, route reason, latency): no text.
"""

from __future__ import annotations

import orjson

from extproc.context import RequestContext
from extproc.telemetry.recent import RecentRequests
from extproc.tenancy.auth import Access


class RecentRequestsList:
    """The calling tenant's recent requests, as an OpenAI-style list."""

    method = "GET"
    path = "/v1/gateway/requests"
    content_type = "application/json"
    access = Access.TENANT

    def __init__(self, recent: RecentRequests) -> None:
        self._recent = recent

    async def answer(self, ctx: RequestContext) -> bytes:
        """`{"object": "list", "data": [...]}` for the key's tenant."""
        return orjson.dumps({"object": "list", "data": [entry.as_dict() for entry in self._recent.of(ctx.tenant)]})
