"""Recent requests: each finished request, as figures, in its tenant's ring buffer (`telemetry/recent.py`).

Right after auth at the headers, so on the way back it is among the last: its `on_response`
sees the request priced, cached and settled, whatever ended it. Requests the gateway answers
from its own endpoints (`/v1/models`, this list itself) are not recorded: only the model calls
(forwarded, refused, answered from the cache or as a dry run).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.stages.base import Stage
from extproc.telemetry.recent import RecentRequest, RecentRequests


class RecentRequestsStage(Stage):
    """Record each model call's outcome for its tenant's recent-requests list."""

    name = "recent"

    def __init__(self, recent: RecentRequests) -> None:
        self.recent = recent

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Nothing on the way in."""
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """The request's figures, never its text."""
        if ctx.client_body is None:  # a local endpoint, or a body that could not be read
            return
        latency_ms = ctx.elapsed_ms()
        started = datetime.now(UTC) - timedelta(milliseconds=latency_ms)
        usage = ctx.usage
        served = ctx.cache_hit.served_model if ctx.cache_hit is not None else ctx.served_model
        self.recent.record(
            ctx.tenant,
            RecentRequest(
                request_id=ctx.request_id,
                time=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                model=ctx.requested_model,
                served_model=served,
                # None: the gateway answered it itself without a refusal (a dry run).
                status=ctx.status if ctx.status is not None else 200,
                prompt_tokens=usage.prompt_tokens if usage is not None else None,
                completion_tokens=usage.completion_tokens if usage is not None else None,
                cost_usd=ctx.cost_usd,
                cache=ctx.cache_outcome or "off",
                route_reason=ctx.routing.reason if ctx.routing is not None else None,
                latency_ms=round(latency_ms, 1),
            ),
        )
