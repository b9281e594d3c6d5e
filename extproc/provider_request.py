"""The request as one provider endpoint expects it: model name, URL, Host, key.

Used per attempt by the upstream filter and, for clusters that run no
upstream filter (one OpenAI-compatible endpoint), by the router filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from .catalog import Endpoint
from .errors import GatewayError

# Path below the provider's base URL, per gateway endpoint (OpenAI-compatible providers).
_OPENAI_SUFFIX = {"/v1/chat/completions": "/chat/completions", "/v1/embeddings": "/embeddings"}


@dataclass(slots=True)
class ProviderRequest:
    """Headers to set and the body to send to one endpoint."""

    headers: dict[str, str]
    body: bytes


def for_endpoint(endpoint: Endpoint, path: str, payload: dict[str, Any], api_key: str | None) -> ProviderRequest:
    """Rewrite an OpenAI-format request for an OpenAI-compatible endpoint."""
    suffix = _OPENAI_SUFFIX.get(path.split("?", 1)[0])
    if suffix is None:
        raise GatewayError(
            404, f"Provider {endpoint.provider!r} does not serve {path}.", code="unsupported_endpoint"
        )
    payload["model"] = endpoint.upstream_model
    body = orjson.dumps(payload)
    headers = {"content-length": str(len(body))}
    if endpoint.api_base:
        base = urlsplit(endpoint.api_base)
        headers[":path"] = base.path.rstrip("/") + suffix
        headers[":authority"] = base.netloc
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return ProviderRequest(headers=headers, body=body)
