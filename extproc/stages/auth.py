"""Auth: the API key on a request, to the tenant it belongs to (the first stage, before the body is read).

Who may call what is `tenancy/auth.py`'s business: keys, tenants, admin keys,
keyless local scrapes. This stage asks it about every request, locally
answered ones included (with the endpoint's `Access`), and refuses with its
401, 403 or 503.
"""

from __future__ import annotations

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.stages.base import Stage
from extproc.tenancy.auth import Authenticator


class AuthStage(Stage):
    """Identify the caller; refuse a missing, unknown or revoked key, or a tenant's key on an operator endpoint."""

    name = "auth"

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Set the tenant and key of the request, and whether the key is an admin key."""
        identity = await self.authenticator.identify(ctx.headers, ctx.access, ctx.peer)
        ctx.tenant, ctx.key_id, ctx.admin = identity.tenant, identity.key_id, identity.admin
        return None
