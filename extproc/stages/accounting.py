"""Accounting: what an answer used and cost, on its headers, its stream and the log line.

Nearest the provider on the way back, so every other stage sees the answer
priced. Usage is read from the answer (a buffered body, or a stream's usage
chunk); when the provider reported none it is counted here (the prompt, and
the completion's text), and the answer says so. Buffered answers carry the
figures as response headers; streams carry them in the usage chunk
(`x_gateway`), since their headers leave before usage is known. Attempts
that reached a provider and ended unanswered (reset, timed out) are charged
too: each one's prompt at its endpoint's price, once (ADR 0005).
"""

from __future__ import annotations

from typing import Any

from extproc.context import RequestContext
from extproc.cost.estimate import Estimator
from extproc.cost.pricing import Pricing, format_usd
from extproc.cost.usage import Usage, completion_text, usage_from_openai
from extproc.formats import GATEWAY_FIELD
from extproc.stages.base import Stage

PROMPT_TOKENS_HEADER = "x-gateway-prompt-tokens"
COMPLETION_TOKENS_HEADER = "x-gateway-completion-tokens"
CACHED_TOKENS_HEADER = "x-gateway-cached-tokens"
COST_HEADER = "x-gateway-cost-usd"
USAGE_ESTIMATED_HEADER = "x-gateway-usage-estimated"


class AccountingStage(Stage):
    """Read or count each answer's usage, price it, and expose it to the client and the access log."""

    name = "accounting"

    def __init__(self, pricing: Pricing, estimator: Estimator) -> None:
        self._pricing = pricing
        self._estimator = estimator

    def on_answer(self, ctx: RequestContext, answer: dict[str, Any]) -> bool:
        """The buffered answer's usage, or its count."""
        ctx.usage = usage_from_openai(answer)
        if ctx.usage is None or ctx.log_text:
            ctx.completion_text.append(completion_text(answer))
        if ctx.usage is None:
            self._count(ctx)
        # Priced now, like a stream's usage chunk, so the stages after it on the way back see the cost.
        ctx.cost_usd = self._cost(ctx)
        return False

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> None:
        """The usage chunk gets the gateway's figures; other chunks' text is kept for a count."""
        usage = usage_from_openai(chunk)
        if usage is not None:
            ctx.usage = usage
            ctx.cost_usd = self._cost(ctx)
            chunk[GATEWAY_FIELD] = {
                "served_model": ctx.served_model,
                "provider": ctx.endpoint.provider if ctx.endpoint else None,
                "cost_usd": ctx.cost_usd,
                "usage_estimated": ctx.usage_estimated,
            }
            return
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                ctx.completion_text.append(delta["content"])

    def closing_chunks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """At a stream's end: a usage chunk with the count when the provider reported none."""
        if ctx.usage is not None:
            return []
        usage = self._count(ctx)
        if usage is None:
            return []
        totals = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                  "total_tokens": usage.total_tokens}  # fmt: skip
        return [{"id": f"chatcmpl-{ctx.request_id or 'gateway'}", "object": "chat.completion.chunk", "created": 0,
                 "model": ctx.served_model or "", "choices": [], "usage": totals}]  # fmt: skip

    async def on_response(self, ctx: RequestContext) -> None:
        """Price the usage (and the unanswered attempts); headers go out when the response is buffered."""
        if ctx.usage is None and ctx.partial_answer:
            self._count(ctx)  # the client left mid-answer: the prompt and what was sent so far
        if ctx.cost_usd is None:  # a stream's usage chunk was priced already, for its x_gateway figures
            ctx.cost_usd = self._cost(ctx)
        headers = ctx.client_headers
        usage = ctx.usage
        if usage is not None and ctx.endpoint is not None:
            headers[PROMPT_TOKENS_HEADER] = str(usage.prompt_tokens)
            headers[COMPLETION_TOKENS_HEADER] = str(usage.completion_tokens)
            headers[CACHED_TOKENS_HEADER] = str(usage.cached_tokens)
            if ctx.usage_estimated:
                headers[USAGE_ESTIMATED_HEADER] = "true"
        if ctx.cost_usd is not None:  # also on Envoy's error reply when unanswered attempts were charged
            headers[COST_HEADER] = format_usd(ctx.cost_usd)

    def _cost(self, ctx: RequestContext) -> float | None:
        """The answer's price plus, the first time, the prompts of the attempts that went unanswered."""
        cost = self._pricing.cost_usd(ctx.endpoint, ctx.usage) if ctx.usage and ctx.endpoint else None
        unanswered, ctx.unanswered = ctx.unanswered, []
        if not unanswered or ctx.route is None or ctx.body is None:
            return cost
        total = cost or 0.0
        for provider, model in unanswered:
            endpoint = next((e for e in ctx.route.endpoints if (e.provider, e.upstream_model) == (provider, model)), None)
            if endpoint is not None:
                prompt = self._estimator.prompt_tokens(endpoint.model, ctx.body, ctx.kind)
                total += self._pricing.cost_usd(endpoint, Usage(prompt_tokens=prompt)) or 0.0
        ctx.decisions.append(f"unanswered_attempts:{len(unanswered)}")
        return total

    def _count(self, ctx: RequestContext) -> Usage | None:
        """Count usage the provider did not report, and say so; the count (None with nothing to count)."""
        if ctx.endpoint is None or ctx.body is None:
            return None
        model, text = ctx.endpoint.model, "".join(ctx.completion_text)
        ctx.usage = Usage(
            prompt_tokens=self._estimator.prompt_tokens(model, ctx.body, ctx.kind),
            completion_tokens=self._estimator.completion_tokens(model, text) if text else 0,
            model=ctx.endpoint.upstream_model,
        )
        ctx.usage_estimated = True
        ctx.decisions.append("usage_estimated")
        return ctx.usage
