"""Prompt: a request that names a versioned prompt gets it expanded, before anything routes, scans or caches it.

    "prompt": {"name": "support-reply", "label": "staging" | "version": 3, "variables": {...}}

The request's `prompt` was taken out of its body when the body was read
(`router/request.py`); this stage runs before the body is validated, so a
request may leave its messages (or its model) to the prompt. The prompt's
rendered messages go first, then the request's own; its model, parameters
and response format fill only what the request leaves unset
(`prompts/resolver.py`). A render may add at most what Envoy's body cap
leaves after the request's own body. The answer names the prompt and version
it was served with (`x-gateway-prompt`, `x-gateway-prompt-version`), and so
do the log line, the trace and the metrics.
"""

from __future__ import annotations

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.errors import GatewayError
from extproc.prompts.resolver import PROMPT_HEADER, PROMPT_VERSION_HEADER, PromptResolver
from extproc.stages.base import Stage
from extproc.telemetry import metrics


class PromptStage(Stage):
    """Expand the prompt a chat request names; 400, 404 or 503 (in the client's format) when it cannot be."""

    name = "prompt"

    def __init__(self, resolver: PromptResolver, body_limit: int) -> None:
        self._resolver = resolver
        self._body_limit = body_limit

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Replace the body with the prompt's expansion; note the version served."""
        reference = ctx.prompt_reference
        if reference is None or ctx.body is None:
            return None
        try:
            if ctx.kind != "chat":
                raise GatewayError(400, f"`prompt` is for chat requests; a {ctx.kind} request cannot name one.",
                                   code="prompt_not_supported", param="prompt")  # fmt: skip
            # A wrong reference is refused here too (parse_reference), so that it counts as a prompt error.
            rendered = await self._resolver.resolve(ctx.tenant, reference, max(self._body_limit - ctx.body_size, 0))
        except GatewayError as error:
            metrics.record_prompt_error(code=error.code or str(error.status))
            raise
        ctx.body = rendered.apply(ctx.body)
        ctx.body_changed = True
        ctx.prompt_name, ctx.prompt_version = rendered.name, rendered.version
        ctx.client_headers[PROMPT_HEADER] = rendered.name
        ctx.client_headers[PROMPT_VERSION_HEADER] = str(rendered.version)
        ctx.decisions.append(f"prompt:{rendered.name}@{rendered.version}")
        metrics.record_prompt(prompt=rendered.name, version=rendered.version)
        return None
