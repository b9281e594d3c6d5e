"""What describes one API endpoint to the generic processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..catalog import Catalog
from ..usage import Usage


@dataclass(slots=True)
class ParsedRequest:
    """The fields of a request body the gateway routes on."""

    model: str
    stream: bool = False
    # The client asked for the stream's usage chunk (`stream_options.include_usage`).
    stream_usage: bool = False


class EndpointSpec(Protocol):
    """How the generic processor reads and answers one endpoint."""

    method: str
    path: str

    def parse(self, body: Any) -> ParsedRequest:
        """Validate a decoded JSON body; raise `GatewayError` (400) when it is wrong."""
        ...

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Adjust the body before it goes upstream; True when it changed."""
        ...

    def usage(self, payload: dict[str, Any]) -> Usage | None:
        """Usage in a decoded response body or stream event."""
        ...


class LocalEndpoint(Protocol):
    """An endpoint the gateway answers itself from its configuration."""

    method: str
    path: str

    def answer(self, catalog: Catalog) -> bytes:
        """The JSON body of the answer."""
        ...
