"""One ext_proc message as plain values, and what a processor of a stream of them offers.

`ext_proc/codec.py` turns each `ProcessingRequest` into a `Message` (headers,
body, attributes already parsed from Envoy's text format, forwarded metadata)
and each decision (`decisions.Reply` or `decisions.Changes`) back into a
`ProcessingResponse`. The router-level and upstream-level processors share
the `Processor` protocol, so one server loop serves both filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from extproc.decisions import Changes, Reply

REQUEST_HEADERS = "request_headers"
REQUEST_BODY = "request_body"
RESPONSE_HEADERS = "response_headers"
RESPONSE_BODY = "response_body"

# Envoy attributes the filters ask for (`request_attributes`, `response_attributes`).
SOURCE_ADDRESS = "source.address"
CLUSTER_NAME = "xds.cluster_name"
# Metadata attributes: the codec hands over their `llm_gateway` namespace as a dict.
UPSTREAM_HOST_METADATA = "xds.upstream_host_metadata"
ROUTE_METADATA = "xds.route_metadata"
METADATA_ATTRIBUTES = (UPSTREAM_HOST_METADATA, ROUTE_METADATA)


@dataclass(slots=True)
class Message:
    """One message of an ext_proc stream: its phase and what it carries."""

    phase: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    end_of_stream: bool = False
    # Envoy attributes by name: strings, or the `llm_gateway` namespace (a dict) of a metadata attribute.
    attributes: dict[str, Any] = field(default_factory=dict)
    # The `llm_gateway` dynamic metadata Envoy forwarded with the message.
    metadata: dict[str, Any] = field(default_factory=dict)


class Processor(Protocol):
    """Handles the messages of one ext_proc stream, in the order Envoy sends them."""

    async def process(self, message: Message) -> Reply | Changes:
        """The decision for one message (a `Reply` answers the client now)."""
        ...

    def failed(self) -> Reply:
        """The reply when processing a message raised: the gateway's own failure, in the client's format."""
        ...

    def close(self) -> None:
        """The stream has ended (also when Envoy ended it early)."""
        ...
