"""Redaction: sensitive values never reach a provider unless the route allows it.

On the way in, the route's request policy masks each value with a typed
placeholder (`mask`, `restore`) or refuses the request (`block`). On the way
out, the processor runs the answer through the `OutputGuard` this stage
prepared: the response policy, then restore mode's way back.
"""

from __future__ import annotations

from collections import Counter

from .. import metrics
from ..context import RequestContext
from ..decisions import Reply
from ..errors import GatewayError
from ..redaction.detector import Detector
from ..redaction.output import OutputGuard
from ..redaction.placeholders import Placeholders
from ..redaction.policy import PrivacyPolicies
from ..redaction.texts import rewrite_request


# Touches every recognizer once (e-mail's suffix list, phone's metadata, the regex caches).
_WARM_UP = "warm-up: a@example.com +1 212 736 5000 4111 1111 1111 1111 GB82WEST12345698765432 10.0.0.1 sk-x"


class RedactionStage:
    """Apply the route's privacy policy to the request, and arm the output guard for its answer."""

    name = "redaction"

    def __init__(self, policies: PrivacyPolicies) -> None:
        self._policies = policies
        # Detectors by (entities, deny list): routes sharing a policy share one.
        self._detectors: dict[tuple[tuple[str, ...], tuple[str, ...]], Detector] = {}
        # Built and run once now, so that the first request does not pay for loading them.
        for privacy in (policies.default, *policies.by_model.values()):
            if privacy.request.mode != "off":
                self.detector(privacy.request.entities).find(_WARM_UP)
            if privacy.response.mode != "off":
                self.detector(privacy.response.entities, privacy.response.deny_list).find(_WARM_UP)

    def detector(self, entities: tuple[str, ...], deny_list: tuple[str, ...] = ()) -> Detector:
        """The detector for these entities and words, built once."""
        key = (entities, deny_list)
        if key not in self._detectors:
            self._detectors[key] = Detector(entities, deny_list)
        return self._detectors[key]

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Mask or refuse what the route's request policy names; 400 `sensitive_data` when it blocks."""
        privacy = self._policies.for_model(ctx.route.name if ctx.route else None)
        ctx.log_text = privacy.log_text
        request, response = privacy.request, privacy.response
        placeholders = None
        if request.mode != "off" and ctx.body is not None:
            detector = self.detector(request.entities)
            if request.mode == "block":
                _refuse_if_found(ctx, detector)
            else:
                placeholders = Placeholders()
                masked = rewrite_request(ctx.body, ctx.kind, lambda text: placeholders.mask(text, detector.find(text)))
                ctx.body_changed |= masked
                if placeholders.counts:
                    ctx.redactions = dict(placeholders.counts)
                    ctx.decisions.append(f"redacted:{sum(placeholders.counts.values())}")
                    metrics.record_redactions(
                        route=_route(ctx), direction="request", action="mask", counts=ctx.redactions
                    )
        restoring = placeholders if request.mode == "restore" and placeholders and placeholders.originals else None
        if (response.mode != "off" or restoring is not None) and ctx.kind == "chat":
            detector = self.detector(response.entities, response.deny_list) if response.mode != "off" else None
            ctx.output_guard = OutputGuard(detector, response.mode == "block", restoring, response.deny_list)
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        """Count what the output policy acted on."""
        guard = ctx.output_guard
        if guard is None or not guard.counts:
            return
        action = "block" if guard.blocked else "mask"
        ctx.decisions.append(f"output_{action}:{sum(guard.counts.values())}")
        metrics.record_redactions(route=_route(ctx), direction="response", action=action, counts=dict(guard.counts))


def _refuse_if_found(ctx: RequestContext, detector: Detector) -> None:
    found: Counter[str] = Counter()

    def count(text: str) -> str:
        for finding in detector.find(text):
            found[finding.entity] += 1
        return text

    rewrite_request(ctx.body or {}, ctx.kind, count)
    if not found:
        return
    ctx.redactions = dict(found)
    metrics.record_redactions(route=_route(ctx), direction="request", action="block", counts=ctx.redactions)
    kinds = ", ".join(f"{entity} ({n})" for entity, n in sorted(found.items()))
    raise GatewayError(
        400,
        f"The request contains sensitive data that the model {_route(ctx)!r} may not receive: {kinds}. "
        "Remove it, or use a model whose route masks it.",
        code="sensitive_data",
    )


def _route(ctx: RequestContext) -> str | None:
    return ctx.route.name if ctx.route else None
