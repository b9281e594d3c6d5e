"""`POST /v1/gateway/cost-estimate`: what a chat request would cost, without calling upstream.

The body is an ordinary chat completions request; the answer is the estimate
the cost-control stage computes (the same one `llm-gateway-dry-run: true`
returns on the normal endpoint).
"""

from __future__ import annotations

from typing import Any

from extproc.endpoints.base import ParsedRequest
from extproc.endpoints.chat_completions import ChatCompletions


class CostEstimate(ChatCompletions):
    """A chat request, always answered with its estimate."""

    path = "/v1/gateway/cost-estimate"

    def parse(self, body: Any) -> ParsedRequest:
        """Validate like chat completions; never forwarded."""
        parsed = super().parse(body)
        parsed.dry_run = True
        return parsed
