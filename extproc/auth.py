"""Authentication: the API key on a request, to the tenant it belongs to.

Clients send their gateway key the way their SDK sends a provider key:
`Authorization: Bearer <key>` (OpenAI) or `x-api-key: <key>` (Anthropic).
The key never goes further: the provider gets the gateway's own credential
(`provider_request.dropped_headers`), and no error or log line
repeats a key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from .errors import GatewayError
from .keys import KeyStore, digest
from .settings import ANONYMOUS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a tenant, and the key it used (None without authentication)."""

    tenant: str
    key_id: str | None = None


ANONYMOUS_IDENTITY = Identity(ANONYMOUS)


class Authenticator:
    """Checks API keys against a key store; `store=None` turns authentication off (local demos)."""

    def __init__(self, store: KeyStore | None) -> None:
        self._store = store

    @property
    def enabled(self) -> bool:
        """False in the no-auth demo mode."""
        return self._store is not None

    async def identify(self, headers: dict[str, str]) -> Identity:
        """The caller's identity; GatewayError 401 for a missing, unknown or revoked key."""
        if self._store is None:
            return ANONYMOUS_IDENTITY
        key = presented_key(headers)
        if not key:
            raise GatewayError(
                401,
                "Missing API key. Send your gateway key as `Authorization: Bearer <key>` or `x-api-key: <key>`.",
                code="missing_api_key",
            )
        try:
            record = await self._store.find(digest(key))
        except (OSError, RedisError, ValueError) as exc:  # store down (key not seen recently), or its file broken
            log.error("key store unavailable: %s", type(exc).__name__)
            raise GatewayError(503, "The gateway cannot check API keys right now; retry shortly.", code="auth_unavailable") from None
        if record is None:
            raise GatewayError(401, "Invalid API key.", code="invalid_api_key")
        if not record.active:
            raise GatewayError(401, "This API key has been revoked.", code="invalid_api_key")
        return Identity(record.tenant, record.id)


def presented_key(headers: dict[str, str]) -> str:
    """The key from `Authorization: Bearer` or `x-api-key`, or an empty string."""
    authorization = headers.get("authorization", "").strip()
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return headers.get("x-api-key", "").strip()
