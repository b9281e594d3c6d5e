"""Redaction: sensitive values never reach a provider unless the route allows it.

On the way in, the route's request policy masks each value with a typed
placeholder (`mask`, `restore`) or refuses the request (`block`), within the
route's scan budget (`max_scan_bytes`, `max_scan_seconds`; beyond it,
`over_budget`). The work runs on the event loop for a small request and in a
worker process for a large one (`ScanPool`). On the way out, the answer (each
chunk of a stream) goes through the `OutputGuard` this stage armed for the
request: the response policy, then restore mode's way back.
"""

from __future__ import annotations

import logging
from typing import Any

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.errors import GatewayError
from extproc.redaction.detector import Detector, detector_for
from extproc.redaction.output import OutputGuard
from extproc.redaction.placeholders import Placeholders
from extproc.redaction.policy import PrivacyPolicies, RequestPolicy
from extproc.redaction.pool import ScanBusy, ScanPool, default_pool
from extproc.redaction.request_scan import RequestScan, scan_job
from extproc.stages.base import Stage
from extproc.telemetry import metrics

log = logging.getLogger(__name__)

# How long a client refused for a busy scanner should wait before trying again.
_BUSY_RETRY_AFTER_S = 2
# What the request's scan masked, by entity: `EMAIL_ADDRESS=2,PHONE_NUMBER=1`.
REDACTIONS_HEADER = "x-gateway-redactions"


class RedactionStage(Stage):
    """Apply the route's privacy policy to the request, and arm the output guard for its answer."""

    name = "redaction"

    def __init__(self, policies: PrivacyPolicies, pool: ScanPool | None = None) -> None:
        self._policies = policies
        self.pool = pool or default_pool()
        # Built and run once now, so that the first request does not pay for loading them.
        for privacy in (policies.default, *policies.by_model.values()):
            if privacy.request.mode != "off":
                self.detector(privacy.request.entities)
            if privacy.response.mode != "off":
                self.detector(privacy.response.entities, privacy.response.deny_list)

    def detector(self, entities: tuple[str, ...], deny_list: tuple[str, ...] = ()) -> Detector:
        """The detector for these entities and words (one per process)."""
        return detector_for(entities, deny_list)

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Mask or refuse what the route's request policy names (see the errors in `_refusal`)."""
        privacy = self._policies.for_model(_route(ctx))
        ctx.log_text = privacy.log_text
        request, response = privacy.request, privacy.response
        placeholders = None
        if request.mode != "off" and ctx.body is not None:
            placeholders = Placeholders() if request.mode != "block" else None
            scan = await self._scan(ctx, request, placeholders)
            ctx.body_changed |= scan.changed
            if scan.counts:
                ctx.redactions = dict(scan.counts)
                action = "block" if request.mode == "block" else "mask"
                metrics.record_redactions(route=_route(ctx), direction="request", action=action, counts=ctx.redactions)
                if request.mode == "block":
                    raise _sensitive_data(ctx, scan)
                ctx.decisions.append(f"redacted:{sum(scan.counts.values())}")
                # Counts by entity, never a value (the playground shows them).
                ctx.client_headers[REDACTIONS_HEADER] = ",".join(f"{k}={v}" for k, v in sorted(ctx.redactions.items()))
        restoring = placeholders if request.mode == "restore" and placeholders and placeholders.originals else None
        if (response.mode != "off" or restoring is not None) and ctx.kind == "chat":
            detector = self.detector(response.entities, response.deny_list) if response.mode != "off" else None
            ctx.output_guard = OutputGuard(detector, response.mode == "block", restoring, response.deny_list)
            ctx.stream_inspected = True
            if ctx.stream:
                ctx.decisions.append("output_guarded")
        return None

    def on_answer(self, ctx: RequestContext, answer: dict[str, Any]) -> bool:
        """The output policy on a buffered answer."""
        return ctx.output_guard is not None and ctx.output_guard.answer(answer)

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> None:
        """The output policy on a stream, chunk by chunk."""
        if ctx.output_guard is not None:
            ctx.output_guard.chunk(chunk)

    async def on_response(self, ctx: RequestContext) -> None:
        """Count what the output policy acted on."""
        guard = ctx.output_guard
        if guard is None or not guard.counts:
            return
        action = "block" if guard.blocked else "mask"
        ctx.decisions.append(f"output_{action}:{sum(guard.counts.values())}")
        metrics.record_redactions(route=_route(ctx), direction="response", action=action, counts=dict(guard.counts))

    async def _scan(self, ctx: RequestContext, request: RequestPolicy, placeholders: Placeholders | None) -> RequestScan:
        """Run the request's detection within its budget; raise the refusal the policy calls for."""
        args = (ctx.body, ctx.kind, request.entities, placeholders, request.max_scan_bytes, request.over_budget == "truncate")
        try:
            body, scan, used = await self.pool.run(scan_job, args, ctx.body_size, request.max_scan_seconds)
        except ScanBusy:
            ctx.decisions.append("scan_busy")
            raise GatewayError(
                503,
                "The gateway is busy checking other large requests for sensitive data. Retry shortly, or send less text.",
                code="redaction_busy",
                headers={"retry-after": str(_BUSY_RETRY_AFTER_S)},
            ) from None
        if body is not None and body is not ctx.body and ctx.body is not None:  # rewritten in a worker process
            ctx.body.clear()
            ctx.body.update(body)  # the same object: the processor holds it
        if placeholders is not None and used is not None and used is not placeholders:
            placeholders.take(used)
        if scan.media and request.unscannable == "refuse":
            raise GatewayError(
                400,
                f"The model {_route(ctx)!r} only takes text the gateway can check for sensitive data; "
                f"it cannot read {', '.join(scan.media[:5])}. Send the content as text, or use another model.",
                code="unscannable_content",
            )
        if scan.over_budget is not None:
            ctx.decisions.append(f"scan_over_budget:{scan.over_budget}")
            if request.mode == "block" and scan.counts:
                raise _sensitive_data(ctx, scan)
            if request.over_budget == "refuse":
                raise _too_large(ctx, request, scan)
            log.info("request %s: scan over its budget (%s); the unread text was cut", ctx.request_id, scan.over_budget)
        return scan


def _too_large(ctx: RequestContext, request: RequestPolicy, scan: RequestScan) -> GatewayError:
    if scan.over_budget == "bytes":
        why = f"it holds {scan.size:,} bytes of text, and the model {_route(ctx)!r} takes at most {request.max_scan_bytes:,}"
    else:
        why = f"checking it took longer than the {request.max_scan_seconds:g} s the model {_route(ctx)!r} allows"
    return GatewayError(
        413,
        f"The request is too large to check for sensitive data: {why}. Send less text, or split the request.",
        code="request_too_large_to_scan",
    )


def _sensitive_data(ctx: RequestContext, scan: RequestScan) -> GatewayError:
    kinds = ", ".join(f"{entity} ({n})" for entity, n in sorted(scan.counts.items()))
    return GatewayError(
        400,
        f"The request contains sensitive data that the model {_route(ctx)!r} may not receive: {kinds}. "
        "Remove it, or use a model whose route masks it.",
        code="sensitive_data",
    )


def _route(ctx: RequestContext) -> str | None:
    return ctx.route.name if ctx.route else None
