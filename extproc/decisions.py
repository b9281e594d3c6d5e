"""What a stage may decide, as plain values.

Stages never build protobuf messages: they return a `Reply` (answer the client
now) or record changes on the request context. `ext_proc/codec.py` alone turns
these into ext_proc `ProcessingResponse`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from extproc.errors import GatewayError

# Headers on every answer: Envoy's request id, and which model and provider served it.
REQUEST_ID_HEADER = "x-gateway-request-id"
# The trace the request belongs to, when tracing is on (32 hex digits, as W3C traceparent writes it).
TRACE_ID_HEADER = "x-gateway-trace-id"
SERVED_MODEL_HEADER = "x-gateway-served-model"
PROVIDER_HEADER = "x-gateway-provider"

# A request's `error` when its client went away before the answer's end: the client's doing,
# not a failure of the gateway or the provider.
CLIENT_DISCONNECTED = "client_disconnected"


@dataclass(slots=True)
class Reply:
    """Answer the client now, without calling (or after reading) the upstream."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    # Dynamic metadata for the access log (namespace llm_gateway).
    metadata: dict[str, object] | None = None

    @classmethod
    def from_error(cls, error: GatewayError, headers: dict[str, str] | None = None, body: bytes | None = None) -> Reply:
        """The reply for a gateway error: `body` in the client's error format (default: OpenAI's JSON)."""
        return cls(
            status=error.status,
            body=error.body() if body is None else body,
            headers={"content-type": "application/json", **error.headers, **(headers or {})},
            reason=error.code or error.message,
        )

    @classmethod
    def json(cls, status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        """A JSON reply with the right content type."""
        return cls(status=status, body=body, headers={"content-type": "application/json", **(headers or {})})


@dataclass(slots=True)
class Changes:
    """Header and body changes to apply to the message being processed."""

    set_headers: dict[str, str] = field(default_factory=dict)
    remove_headers: list[str] = field(default_factory=list)
    body: bytes | None = None
    clear_route_cache: bool = False
    # For response headers only: process the response body chunk by chunk.
    stream_body: bool = False
    # Dynamic metadata for later filters and the access log (namespace llm_gateway).
    metadata: dict[str, object] | None = None
    # Dynamic metadata for Envoy's load balancer (namespace envoy.lb): a fallback list's positions.
    lb_metadata: dict[str, str] | None = None

    def replace_body(self, body: bytes) -> Changes:
        """Replace a buffered body; Envoy refuses a mutated body whose content-length disagrees."""
        self.body = body
        self.set_headers["content-length"] = str(len(body))
        return self

    def is_empty(self) -> bool:
        """True when nothing would change."""
        return not (
            self.set_headers
            or self.remove_headers
            or self.body is not None
            or self.clear_route_cache
            or self.stream_body
            or self.metadata
            or self.lb_metadata
        )
