"""The per-request context: everything the stages know about one request.

One context lives for the length of one ext_proc gRPC stream, that is one
HTTP request (router filter) or one upstream attempt (upstream filter). Stages
read it and write their decisions into it as plain values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from extproc.cache.replay import StreamAssembler
from extproc.cache.store import Entry
from extproc.config.catalog import Endpoint, Lane, ModelRoute
from extproc.cost.estimate import Estimate
from extproc.cost.usage import Usage
from extproc.redaction.output import OutputGuard
from extproc.routing.decide import Decision
from extproc.tenancy.auth import Access
from extproc.tenancy.limits import Reservation


@dataclass(slots=True)
class RequestContext:
    """State of one request as it passes through the ext_proc phases."""

    started: float = field(default_factory=time.monotonic)
    request_id: str = ""
    method: str = ""
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # Envoy's `source.address` of the client ("ip:port"), and who the endpoint answers.
    peer: str = ""
    access: Access = Access.TENANT

    # Request, once the body is read: its size as sent.
    body_size: int = 0
    # The decoded body as the client sent it, and in the canonical (OpenAI) format.
    client_body: Any = None
    body: dict[str, Any] | None = None
    body_changed: bool = False
    requested_model: str | None = None
    route: ModelRoute | None = None
    stream: bool = False
    # The client asked for the usage chunk itself (else the gateway strips it).
    client_wants_stream_usage: bool = False
    tenant: str = "anonymous"
    # The API key the request came with (its id, never the key), when keys are required.
    key_id: str | None = None
    # The key is an admin key (operators' endpoints, writes to the prompt registry).
    admin: bool = False
    # The body's `prompt` field (removed from the body; null counts as absent), and what it was expanded to.
    prompt_reference: Any = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    # The cost estimate, when cost control made one (its prompt count serves the limits too).
    estimate: Estimate | None = None
    # Tokens taken from each token bucket and the budget hold made before the call, settled once
    # usage is known.
    reservation: Reservation | None = None
    # "chat" or "embeddings", from the endpoint the client called.
    kind: str = "chat"
    # The body's `x_gateway` extension object (removed before the provider sees it).
    gateway_options: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    # Routing fields taken out of the body before anyone else reads it: the task the client
    # named (`task_type`, or the seed API's `x_gateway.task`) and its `models` fallback list.
    task_type: Any = None
    fallback_models: Any = None
    # Why the request went where it did, when a routing policy (a virtual model) or a fallback list chose.
    routing: Decision | None = None
    # Envoy's load-balancer metadata (`envoy.lb`): a fallback list's positions.
    lb_metadata: dict[str, str] | None = None
    # The fail-open lane the request came in on (`/local/v1/...`), if any.
    lane: Lane | None = None
    # The lowest priority level a fallback may reach under a cost cap (None: any).
    max_priority: int | None = None
    # Values masked before the provider saw the request, by entity (counts only, never values).
    redactions: dict[str, int] = field(default_factory=dict)
    # The output policy and restore mode for the answer, when the route has either.
    output_guard: OutputGuard | None = None
    # Some stage must see every chunk of a streamed answer (the output guard, the cache's assembler).
    stream_inspected: bool = False
    # The route lets the log line carry the (redacted) prompt and completion.
    log_text: bool = False
    # Cache: "hit", "miss" or "bypass" (None: the route does not cache); the entry a hit
    # replays; a miss's key and time to live, and the answer to store under it.
    cache_outcome: str | None = None
    cache_hit: Entry | None = None
    cache_key: str | None = None
    cache_ttl: int = 0
    cache_answer: dict[str, Any] | None = None
    # A streamed miss's answer, put back together as it streams.
    cache_assembler: StreamAssembler | None = None
    # What the answer a hit replays cost when it was first served (None: unknown).
    cache_saved_usd: float | None = None
    # A semantic route's (scope, embedding, prompt text) of this request, to index its answer.
    cache_semantic: tuple[str, Any, str] | None = None
    # A learned semantic route's explored candidate (cache.exploration.Exploration), to label
    # against this request's fresh answer.
    cache_explored: Any = None

    # Response.
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    endpoint: Endpoint | None = None
    usage: Usage | None = None
    # True when the provider reported no usage and the gateway counted it.
    usage_estimated: bool = False
    cost_usd: float | None = None
    # The answer's text as the model wrote it, kept when usage must be counted or the log carries it.
    completion_text: list[str] = field(default_factory=list)
    # Attempts that reached a provider and ended unanswered, as (provider, model): charged once.
    unanswered: list[tuple[str, str]] = field(default_factory=list)
    # The client left while the provider was answering: what was sent so far is charged.
    partial_answer: bool = False
    # When the first streamed bytes went to the client (monotonic), for time to first token.
    first_output_at: float | None = None
    # Why the answer failed after it started (a provider error mid-stream), for the access log.
    error: str | None = None
    # Seconds the service spent on this request's ext_proc messages (its own overhead).
    service_seconds: float = 0.0

    # Headers to set on the upstream request and on the client's response.
    upstream_headers: dict[str, str] = field(default_factory=dict)
    client_headers: dict[str, str] = field(default_factory=dict)
    # What each stage decided, for the access log ("routing:gpt-4o-mini").
    decisions: list[str] = field(default_factory=list)

    def elapsed_ms(self) -> float:
        """Milliseconds since the request reached the service."""
        return (time.monotonic() - self.started) * 1000.0

    @property
    def served_model(self) -> str | None:
        """The model the provider actually served, as it reported it (or as configured)."""
        if self.usage is not None and self.usage.model:
            return self.usage.model
        return self.endpoint.upstream_model if self.endpoint else None
