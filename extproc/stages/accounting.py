"""Accounting: what an answer used and cost, on its headers and in the log line.

Buffered answers carry the figures as response headers; streams carry them
in the usage chunk (`x_gateway`), since their headers leave before usage is
known. Both reach the access log through the response metadata.
"""

from __future__ import annotations

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.pricing import Pricing

PROMPT_TOKENS_HEADER = "x-gateway-prompt-tokens"
COMPLETION_TOKENS_HEADER = "x-gateway-completion-tokens"
CACHED_TOKENS_HEADER = "x-gateway-cached-tokens"
COST_HEADER = "x-gateway-cost-usd"
USAGE_ESTIMATED_HEADER = "x-gateway-usage-estimated"


class AccountingStage:
    """Price the usage of each answer and expose it to the client and the access log."""

    name = "accounting"

    def __init__(self, pricing: Pricing) -> None:
        self._pricing = pricing

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Nothing to decide before the call."""
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Price the usage; headers go out when the response is buffered."""
        usage = ctx.usage
        if usage is None or ctx.endpoint is None:
            return
        if ctx.cost_usd is None:  # a stream's usage chunk was priced already, for its x_gateway figures
            ctx.cost_usd = self._pricing.cost_usd(ctx.endpoint, usage)
        headers = ctx.client_headers
        headers[PROMPT_TOKENS_HEADER] = str(usage.prompt_tokens)
        headers[COMPLETION_TOKENS_HEADER] = str(usage.completion_tokens)
        headers[CACHED_TOKENS_HEADER] = str(usage.cached_tokens)
        if ctx.usage_estimated:
            headers[USAGE_ESTIMATED_HEADER] = "true"
        if ctx.cost_usd is not None:
            headers[COST_HEADER] = format_usd(ctx.cost_usd)


def format_usd(value: float) -> str:
    """A price without float noise or trailing zeros (`0.000135`)."""
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"
