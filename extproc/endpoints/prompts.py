"""`/v1/gateway/prompts/...`: the prompt registry's API (`prompts/api.py`), answered by the gateway itself.

Any key reads (its tenant's prompts and the global ones); pushing a version
and moving a label need an admin key, which the API checks. Errors come back
as OpenAI error JSON, like every local endpoint's.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

from extproc.context import RequestContext
from extproc.prompts.api import PREFIX, ApiRequest, PromptApi, handles
from extproc.prompts.resolver import PromptResolver
from extproc.tenancy.auth import Access, Identity


class PromptRegistry:
    """The prompt API under PREFIX: list, read, push a version, move a label."""

    prefix = PREFIX
    access = Access.TENANT

    def __init__(self, resolver: PromptResolver) -> None:
        self._api = PromptApi(resolver)

    def handles(self, path: str) -> bool:
        """True for PREFIX and the paths under it."""
        return handles(path)

    async def answer(self, ctx: RequestContext, path: str, body: bytes) -> tuple[int, bytes]:
        """The API's status and JSON for the caller's tenant and key."""
        bare, _, query = path.partition("?")
        request = ApiRequest(
            method=ctx.method, path=bare, identity=Identity(ctx.tenant, ctx.key_id, ctx.admin),
            query=dict(parse_qsl(query)), body=body,
        )  # fmt: skip
        status, payload = await self._api.respond(request)
        return status, orjson.dumps(payload)
