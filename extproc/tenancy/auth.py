"""Authentication: the API key on a request, to the tenant it belongs to, and whether it is an admin key.

Clients send their gateway key the way their SDK sends a provider key:
`Authorization: Bearer <key>` (OpenAI) or `x-api-key: <key>` (Anthropic).
The key never goes further: the provider gets the gateway's own credential
(`provider_request.dropped_headers`), and no error or log line
repeats a key.

Each endpoint says who it answers (`Access`): any tenant's key, or an admin
key only (operators' data: every tenant's figures). `GET /metrics` may also
be answered to a keyless peer on the gateway's own host, when the settings
allow unauthenticated local scrapes (`auth.loopback_metrics_without_key`).
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from dataclasses import dataclass

from extproc.errors import GatewayError, StoreUnavailable
from extproc.tenancy.keys import KeyStore, digest
from extproc.tenancy.settings import ANONYMOUS

log = logging.getLogger(__name__)


class Access(enum.Enum):
    """Who an endpoint answers."""

    # Any active key (everyone, with authentication off).
    TENANT = "tenant"
    # Admin keys only.
    ADMIN = "admin"
    # Admin keys, and keyless peers on the gateway's host where the settings allow local scrapes.
    SCRAPE = "scrape"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a tenant, the key it used (None without authentication), and whether that key is an admin key."""

    tenant: str
    key_id: str | None = None
    admin: bool = False


ANONYMOUS_IDENTITY = Identity(ANONYMOUS)


class Authenticator:
    """Checks API keys against a key store; `store=None` turns authentication off (local demos)."""

    def __init__(self, store: KeyStore | None, loopback_metrics_without_key: bool = False) -> None:
        self._store = store
        self._loopback_scrapes = loopback_metrics_without_key

    @property
    def enabled(self) -> bool:
        """False in the no-auth demo mode."""
        return self._store is not None

    async def identify(self, headers: dict[str, str], access: Access = Access.TENANT, peer: str = "") -> Identity:
        """The caller's identity if `access` lets it in: GatewayError 401 for a missing, unknown or
        revoked key, 403 for a tenant's key on an admin endpoint, 503 when the key store cannot say.
        `peer` is Envoy's `source.address` of the request."""
        if access is Access.SCRAPE and self._loopback_scrapes and peer_is_loopback(peer):
            return ANONYMOUS_IDENTITY
        identity = await self._identity(headers)
        if access is not Access.TENANT and not identity.admin:
            raise _needs_admin(self._store is None, access)
        return identity

    async def _identity(self, headers: dict[str, str]) -> Identity:
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
        except StoreUnavailable as exc:  # store down past the stale bound, or its file broken
            log.error("key store unavailable: %s", exc)
            raise GatewayError(
                503,
                "The gateway cannot check API keys right now (its key store does not answer); retry shortly.",
                code="auth_unavailable",
            ) from None
        if record is None:
            raise GatewayError(401, "Invalid API key.", code="invalid_api_key")
        if not record.active:
            raise GatewayError(401, "This API key has been revoked.", code="invalid_api_key")
        return Identity(record.tenant, record.id, record.admin)


def _needs_admin(auth_off: bool, access: Access) -> GatewayError:
    if auth_off:
        hint = "authentication is off (auth.mode: none), so no key is an admin key"
    else:
        hint = "use an admin key (`llm-gateway keys create --tenant NAME --admin`)"
    if access is Access.SCRAPE:
        hint += "; or, on the gateway's host, set auth.loopback_metrics_without_key: true"
    return GatewayError(403, f"This endpoint is for the gateway's operators: {hint}.", code="admin_key_required")


def presented_key(headers: dict[str, str]) -> str:
    """The key from `Authorization: Bearer` or `x-api-key`, or an empty string."""
    authorization = headers.get("authorization", "").strip()
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return headers.get("x-api-key", "").strip()


def peer_is_loopback(source: str) -> bool:
    """True when Envoy's `source.address` ("127.0.0.1:5000", "[::1]:5000") is a loopback address."""
    host = source.rsplit(":", 1)[0].strip("[]") if ":" in source else source
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
