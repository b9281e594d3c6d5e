"""The request as one provider endpoint expects it: body, URL path, Host, key.

Used per attempt by the upstream filter and, for clusters that run no
upstream filter (one endpoint), by the router filter. The wire format comes
from the endpoint's `ProviderTranslator` (LiteLLM's provider configs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalog import Endpoint
from .errors import GatewayError
from .translation import ProviderTranslator, TranslationError

# Where clients put credentials. The provider gets the gateway's key in the
# header it expects, and none of the client's.
CLIENT_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")

# Headers of one provider family. Attempts share one header map, so an attempt
# to another provider removes those an earlier attempt (or the client) set.
PROVIDER_HEADER_FAMILIES = {"anthropic-": ("anthropic",), "x-goog-": ("gemini",), "openai-": ("openai", "azure")}


def foreign_provider_headers(headers: dict[str, str], provider: str) -> list[str]:
    """Names in `headers` that belong to another provider family than `provider`."""
    return [
        name
        for name in headers
        for prefix, owners in PROVIDER_HEADER_FAMILIES.items()
        if name.startswith(prefix) and provider not in owners
    ]

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"


@dataclass(slots=True)
class ProviderRequest:
    """Headers to set and remove, and the body to send to one endpoint."""

    headers: dict[str, str]
    body: bytes
    remove_headers: list[str] = field(default_factory=list)


def for_endpoint(
    translator: ProviderTranslator, endpoint: Endpoint, path: str, payload: dict[str, Any], api_key: str | None
) -> ProviderRequest:
    """Translate a canonical (OpenAI) request for `endpoint`; GatewayError when it cannot be."""
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
    remove = [name for name in CLIENT_CREDENTIAL_HEADERS if name not in headers]
    return ProviderRequest(headers=headers, body=upstream.body, remove_headers=remove)
