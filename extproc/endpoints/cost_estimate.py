"""`POST /v1/gateway/cost-estimate`: what a chat request would cost, without calling upstream.

The body is an ordinary chat completions request, or the LLM Proxy seed's estimate body
(`{query, model, model_version, expected_response_tokens}`, told apart by its `query` and
no `messages`); the answer is the estimate the cost-control stage computes (the same one
`llm-gateway-dry-run: true` returns on the normal endpoint), in the seed's shape for the
seed's body (`stages/seed_api.py`).
"""

from __future__ import annotations

from typing import Any

from extproc.endpoints.base import ParsedRequest
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.endpoints.seed_query import canonical_body
from extproc.seed_api import ModelChoices, is_seed_body, parse_cost_estimate


class CostEstimate(ChatCompletions):
    """A chat request, always answered with its estimate."""

    path = "/v1/gateway/cost-estimate"

    def __init__(self, models: ModelChoices | None = None) -> None:
        self._models = models or ModelChoices(())

    def to_canonical(self, body: Any) -> Any:
        """A chat body as it is; the seed's body as the chat body it stands for."""
        if is_seed_body(body):
            return canonical_body(lambda: parse_cost_estimate(body, self._models))
        return body

    def parse(self, body: Any) -> ParsedRequest:
        """Validate like chat completions; never forwarded."""
        parsed = super().parse(body)
        parsed.dry_run = True
        return parsed
