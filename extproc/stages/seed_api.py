"""The LLM Proxy seed's API on the chat pipeline: its options in, its answer shapes out (docs/seed-api.md).

First at the body, so on the way back it is the last to see the answer: it rewrites the
canonical answer into the seed's shape after accounting priced it, the cache took it and
the output guard masked it. A dry run or a seed estimate, answered by cost control, reaches
it through `on_reply`. The tenant comes from the key: a body's `tenant` that is not the
key's is refused (403) before routing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.endpoints.seed_query import as_gateway_error
from extproc.seed_api import (
    ModelChoices,
    SeedApiError,
    SeedQuery,
    dry_run_response,
    estimate_response,
    is_seed_body,
    parse_cost_estimate,
    parse_query,
    query_response,
)
from extproc.stages.base import Stage

QUERY_PATHS = ("/api/query", "/v1/gateway/query")
COST_ESTIMATE_PATH = "/v1/gateway/cost-estimate"


class SeedApiStage(Stage):
    """Apply a seed query's options and tenant check; answer in the seed's shapes."""

    name = "seed_api"

    def __init__(self, models: ModelChoices) -> None:
        self._models = models

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """The tenant check; `dry_run` and `max_cost_usd` become the gateway's own options."""
        query = self._query(ctx)
        if query is None:
            return None
        try:
            query.check_tenant(ctx.tenant)
        except SeedApiError as error:
            raise as_gateway_error(error) from None
        if query.dry_run:
            ctx.gateway_options["dry_run"] = True
        if query.max_cost_usd is not None:
            ctx.gateway_options["max_cost_usd"] = query.max_cost_usd
        ctx.decisions.append("seed_api")
        return None

    def on_reply(self, ctx: RequestContext, reply: Reply) -> None:
        """A dry run's or an estimate's answer in the seed's shape."""
        query = self._query(ctx)
        if query is None or reply.status != 200 or ctx.estimate is None:
            return
        estimate = ctx.estimate.as_dict()
        shaped = (estimate_response if _is_estimate(ctx) else dry_run_response)(query, estimate, ctx.request_id)
        reply.body = orjson.dumps(shaped)

    def on_answer(self, ctx: RequestContext, answer: dict[str, Any]) -> bool:
        """The model's answer in the seed's shape, with the figures the stages before found."""
        query = self._query(ctx)
        if query is None or _is_estimate(ctx):
            return False
        shaped = query_response(
            query,
            answer,
            cost_usd=ctx.cost_usd,
            usage=ctx.usage,
            routed_model=ctx.route.name if ctx.route is not None else None,
            provider=ctx.endpoint.provider if ctx.endpoint is not None else None,
            gateway_request_id=ctx.request_id or None,
            cache=ctx.cache_outcome,
            estimated_max_cost_usd=ctx.estimate.max_cost_usd if ctx.estimate is not None else None,
        )
        answer.clear()
        answer.update(shaped)
        return True

    def _query(self, ctx: RequestContext) -> SeedQuery | None:
        """The seed request this is (its body was validated when it was read), or None."""
        path = _path(ctx)
        if path in QUERY_PATHS:
            query = parse_query(ctx.client_body, self._models)
        elif path == COST_ESTIMATE_PATH and is_seed_body(ctx.client_body):
            query = parse_cost_estimate(ctx.client_body, self._models)
        else:
            return None
        # `task_type` left the body for routing when it was read (`ctx.task_type`).
        task = ctx.task_type if isinstance(ctx.task_type, str) else None
        return dataclasses.replace(query, task_type=task)


def _path(ctx: RequestContext) -> str:
    path = ctx.path.split("?", 1)[0]
    return path[len(ctx.lane.prefix) :] if ctx.lane is not None else path


def _is_estimate(ctx: RequestContext) -> bool:
    return _path(ctx) == COST_ESTIMATE_PATH
