"""What describes one API endpoint to the generic processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from extproc.formats import OPENAI, ClientFormat

if TYPE_CHECKING:
    from extproc.context import RequestContext
    from extproc.tenancy.auth import Access


@dataclass(slots=True)
class ParsedRequest:
    """The fields of a request body the gateway routes on."""

    model: str
    stream: bool = False
    # The client asked for the stream's usage chunk (`stream_options.include_usage`).
    stream_usage: bool = False
    # Answer with the cost estimate instead of calling the provider.
    dry_run: bool = False


class EndpointSpec(Protocol):
    """How the generic processor reads and answers one endpoint."""

    method: str
    path: str
    # "chat" or "embeddings": what a model route must serve to take the request.
    kind: str
    # The canonical (OpenAI) path the request takes upstream of the router filter.
    upstream_path: str
    client_format: ClientFormat

    def to_canonical(self, body: Any) -> Any:
        """The decoded client body in the canonical (OpenAI) format; raise `GatewayError` when invalid."""
        ...

    def parse(self, body: Any) -> ParsedRequest:
        """Validate a decoded JSON body; raise `GatewayError` (400) when it is wrong."""
        ...

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Adjust the body before it goes upstream; True when it changed."""
        ...


class OpenAIEndpoint:
    """An endpoint whose requests are already canonical (OpenAI's own API), answered in OpenAI's format."""

    method = "POST"
    client_format: ClientFormat = OPENAI

    def to_canonical(self, body: Any) -> Any:
        """Already canonical."""
        return body

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Nothing to add."""
        return False


class LocalEndpoint(Protocol):
    """An endpoint the gateway answers itself, from its configuration or its stores."""

    method: str
    path: str
    content_type: str
    # Who it answers: any tenant's key, or admin keys only (operators' data).
    access: Access

    async def answer(self, ctx: RequestContext) -> bytes:
        """The body of the answer to the (authenticated) caller in `ctx`."""
        ...
