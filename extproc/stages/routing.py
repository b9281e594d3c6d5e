"""Routing: the model or alias a client asked for, to the route that serves it."""

from __future__ import annotations

from extproc.config.catalog import MODEL_HEADER, Catalog
from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.errors import GatewayError, shown
from extproc.stages.base import Stage

# Listing hundreds of names in an error helps nobody.
_MAX_NAMES_IN_ERROR = 20


class RoutingStage(Stage):
    """Resolve the requested model and tell Envoy's route table which route to take."""

    name = "routing"

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Set `x-gateway-model` to the canonical model name; 404 for an unknown model."""
        requested = ctx.requested_model or ""
        route = self._catalog.resolve(requested)
        if route is None:
            raise _unknown_model(requested, self._catalog.names())
        if route.kind != ctx.kind:
            raise GatewayError(
                400,
                f"The model {shown(requested)} serves {route.kind}, not {ctx.kind}; use a {ctx.kind} model.",
                code="wrong_model_kind",
                param="model",
            )
        if ctx.lane is not None and route.cluster != ctx.lane.cluster:
            served = ", ".join(self._catalog.lane_models(ctx.lane))
            raise GatewayError(
                400,
                f"The {ctx.lane.prefix}/v1 lane serves only {served}, not {shown(requested)}; use /v1 for other models.",
                code="model_not_in_lane",
                param="model",
            )
        ctx.route = route
        ctx.upstream_headers[MODEL_HEADER] = route.name
        ctx.decisions.append(f"route:{route.name}" if route.name == requested else f"alias:{requested}->{route.name}")
        return None


def _unknown_model(requested: str, names: list[str]) -> GatewayError:
    listed = names[:_MAX_NAMES_IN_ERROR]
    more = f" and {len(names) - len(listed)} more" if len(names) > len(listed) else ""
    return GatewayError(
        404,
        f"The model {shown(requested)} does not exist on this gateway. Available models: {', '.join(listed)}{more}.",
        code="model_not_found",
        param="model",
    )
