"""The request as one provider endpoint expects it: body, URL path, Host, key, and only allowed headers.

Used per attempt by the upstream filter and, for clusters that run no
upstream filter (one endpoint), by the router filter. The wire format comes
from the endpoint's `ProviderTranslator` (LiteLLM's provider configs).

Headers are an allowlist at this boundary: a provider gets the headers the
gateway sets for it (credentials, `anthropic-version`, content type and
length), the client's `content-type` and `accept`, three of Envoy's own
(`x-request-id`, `x-forwarded-proto`, `traceparent`), and the endpoint's
`forward_headers`. Everything else the filter sees is removed: the client's
`OpenAI-Organization`, `anthropic-beta`, `Cookie`, credentials and SDK
telemetry, the client's address (`x-forwarded-for`), `tracestate`, and
`x-envoy-*` per attempt. Attempts share one header map, so what an earlier
attempt set for another provider (an `x-api-key`) goes the same way.

The map is also the downstream request's: Envoy routes on it and the access
log reads it. So `x-request-id` (the log's id) and `x-forwarded-proto` (without
it, Envoy 1.40 matched no route once the router filter cleared the route
cache) stay.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from extproc.config.catalog import Endpoint
from extproc.errors import GatewayError
from extproc.translation import ProviderTranslator, TranslationError

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

# Headers every provider may get: how the body is encoded and what answer the client takes, and
# Envoy's request id, scheme and trace context (no client data a provider acts on).
COMMON_HEADERS = frozenset({"content-type", "accept", "x-request-id", "x-forwarded-proto", "traceparent"})
# Hop-by-hop framing is Envoy's business (its codec rewrites it); the gateway leaves it alone.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "transfer-encoding", "upgrade", "host"})


@dataclass(slots=True)
class ProviderRequest:
    """Headers to set and remove, and the body to send to one endpoint."""

    headers: dict[str, str]
    body: bytes
    remove_headers: list[str] = field(default_factory=list)


def for_endpoint(
    translator: ProviderTranslator,
    endpoint: Endpoint,
    path: str,
    payload: dict[str, Any],
    api_key: str | None,
    incoming: Iterable[str] = (),
) -> ProviderRequest:
    """Translate a canonical (OpenAI) request for `endpoint`, removing every header of `incoming`
    the endpoint may not get; GatewayError when it cannot be translated."""
    route = path.split("?", 1)[0]
    try:
        if route == CHAT_PATH:
            upstream = translator.chat_request(payload, api_key)
        elif route == EMBEDDINGS_PATH:
            upstream = translator.embeddings_request(payload, api_key)
        else:
            raise GatewayError(
                404, f"Provider {endpoint.provider!r} does not serve {route}.", code="unsupported_endpoint"
            )
    except TranslationError as error:
        raise GatewayError(error.status, error.message, code=error.code) from None
    headers = dict(upstream.headers)
    headers[":path"] = upstream.path
    headers[":authority"] = upstream.authority
    headers["content-length"] = str(len(upstream.body))
    return ProviderRequest(headers=headers, body=upstream.body, remove_headers=dropped_headers(incoming, endpoint, headers))


def dropped_headers(incoming: Iterable[str], endpoint: Endpoint, kept: Collection[str]) -> list[str]:
    """The names in `incoming` that must not reach `endpoint`: neither set by the gateway (`kept`),
    nor common, nor in the endpoint's `forward_headers`."""
    return sorted(
        {
            name
            for name in (n.lower() for n in incoming)
            if not name.startswith(":")
            and name not in _HOP_BY_HOP
            and name not in kept
            and name not in COMMON_HEADERS
            and not _forwarded(name, endpoint.forward_headers)
        }
    )


def _forwarded(name: str, allowed: tuple[str, ...]) -> bool:
    return any(name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern for pattern in allowed)
