"""The stage interface."""

from __future__ import annotations

from typing import Protocol

from extproc.context import RequestContext
from extproc.decisions import Reply


class Stage(Protocol):
    """One policy applied to every forwarded request."""

    name: str

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Inspect the validated request; return a Reply to answer it now, or raise GatewayError to refuse it."""
        ...

    async def on_response(self, ctx: RequestContext) -> None:
        """Inspect the complete response (usage known, for streams at their end)."""
        ...
