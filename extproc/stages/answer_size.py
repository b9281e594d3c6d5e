"""Answer size: refuse, before any provider call, a request whose answer cannot fit the route's buffer.

Envoy buffers a whole answer for the service, up to the route's
`request_body_buffer_limit`; a larger one becomes a 502 after the provider
was paid. An embeddings answer's size follows from the request (inputs x
dimensions x bytes per value), so it is judged here, right after routing and
before the limits stage reserves anything. Chat answers are bounded by
`max_tokens` and stay far below the buffer.
"""

from __future__ import annotations

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.endpoints.embeddings import check_answer_fits
from extproc.stages.base import Stage


class AnswerSizeStage(Stage):
    """400 `response_too_large` for an embeddings request whose answer could exceed its route's buffer."""

    name = "answer_size"

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Check the worst-case answer against the route's buffer."""
        if ctx.kind == "embeddings" and ctx.route is not None and ctx.body is not None:
            check_answer_fits(ctx.body, ctx.route)
        return None

