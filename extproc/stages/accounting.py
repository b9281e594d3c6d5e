"""Accounting: what an answer used and cost, on its headers and in the log line."""

from __future__ import annotations

from ..context import RequestContext
from ..decisions import Reply
from ..pricing import Pricing


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
        ctx.cost_usd = self._pricing.cost_usd(ctx.endpoint, usage)
        ctx.client_headers["x-gateway-prompt-tokens"] = str(usage.prompt_tokens)
        ctx.client_headers["x-gateway-completion-tokens"] = str(usage.completion_tokens)
        if ctx.cost_usd is not None:
            ctx.client_headers["x-gateway-cost-usd"] = f"{ctx.cost_usd:.10f}".rstrip("0").rstrip(".") or "0"
