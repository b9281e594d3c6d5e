"""The stage contract: what every policy sees of a request and of its answer.

A request meets the stages in the order the pipeline declares
(`stages/pipeline.py`); its answer meets the stages that saw the request in
REVERSE order, the one nearest the provider first. So accounting prices an
answer before the cache stores it and before limits settle on its cost, and
the output guard rewrites it after the cache took it as the model wrote it.

- `on_request`: the validated request; return a `Reply` to answer it now, or
  raise `GatewayError` to refuse it.
- `on_answer`: a buffered answer in the canonical format, before the
  client's format; may change it in place (return True when it did).
- `on_chunk`: each chunk of a streamed answer in the canonical format; may
  change it in place.
- `closing_chunks`: at a stream's end, chunks to add before it closes.
- `on_reply`: an answer a later stage made itself (a dry run's estimate):
  the stages that saw the request before it see it, in reverse order, and
  may rewrite it (the seed API's shapes).
- `on_response`: the end of the request, whatever ended it (an answer, an
  error, a refusal by a later stage, the client leaving): usage is known if
  there was any. Every stage whose `on_request` ran gets this call, once.

Stages take and return plain values; they never build protobuf.
"""

from __future__ import annotations

from typing import Any

from extproc.context import RequestContext
from extproc.decisions import Reply


class Stage:
    """One policy applied to every forwarded request; each hook does nothing unless a stage overrides it."""

    name: str = "stage"

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Inspect the validated request; return a Reply to answer it now, or raise GatewayError to refuse it."""
        return None

    def on_answer(self, ctx: RequestContext, answer: dict[str, Any]) -> bool:
        """Inspect (or change in place) a buffered canonical answer; True when it changed."""
        return False

    def on_reply(self, ctx: RequestContext, reply: Reply) -> None:
        """Inspect (or change in place) the answer a later stage made without calling a provider."""

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> None:
        """Inspect (or change in place) one canonical chunk of a streamed answer."""

    def closing_chunks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Canonical chunks to add at the end of a streamed answer."""
        return []

    async def on_response(self, ctx: RequestContext) -> None:
        """The request has ended (usage known, for streams at their end)."""
