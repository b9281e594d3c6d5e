"""What every wire format module provides: its routes, its auth check and its error body.

`app.py` runs one pipeline for all of them (record, faults, auth, handler); a
wire module only describes itself with a `Wire`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.faults import Faults


class WireError(Exception):
    """WireError is an error answer; the wire renders it in its own error format."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class Call:
    """Call is one request as a handler sees it: parsed body, faults and settings."""

    request: web.Request
    body: dict[str, Any]
    faults: Faults
    config: FakeConfig


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """Route is one endpoint of a wire format."""

    method: str
    path: str
    handler: Handler
    # Whether the request must carry a JSON object body.
    needs_body: bool = True


@dataclass(frozen=True, slots=True)
class Wire:
    """Wire describes one provider's wire format."""

    name: str
    routes: tuple[Route, ...]
    # Returns the error to answer if the request's credentials are not acceptable.
    authenticate: Callable[[web.Request, FakeConfig], WireError | None]
    # Renders an error in the provider's error JSON.
    render_error: Callable[[WireError], web.Response]
    # The message for a body that is not a JSON object.
    invalid_json: str


def new_id(prefix: str, size: int = 24) -> str:
    """new_id is a random identifier like the providers' ("chatcmpl-...", "msg_...")."""
    return prefix + os.urandom(size // 2 + 1).hex()[:size]
