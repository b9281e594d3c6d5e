"""What the response headers say about an answer: its status, the endpoint that served it, its attempts.

Envoy sends the serving endpoint's metadata (`xds.upstream_host_metadata`)
with the response headers, and the attempt log the upstream filter kept
(`upstream/attempts.py`) as forwarded metadata. The client's
`x-gateway-served-model`, `-provider`, `-attempt` and `-attempts` headers
follow from them.
"""

from __future__ import annotations

from typing import Any

from extproc.config.catalog import Endpoint
from extproc.config.fallback_list import FALLBACK_MODEL_KEY
from extproc.context import RequestContext
from extproc.decisions import PROVIDER_HEADER, SERVED_MODEL_HEADER
from extproc.upstream import attempts


def note_response(ctx: RequestContext, headers: dict[str, str], host: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Status, serving endpoint and attempts of the answer, on the context and the client's headers."""
    ctx.response_headers = headers
    ctx.status = _status(headers)
    ctx.endpoint = _serving_endpoint(ctx, host)
    if ctx.endpoint is not None:
        ctx.client_headers[SERVED_MODEL_HEADER] = ctx.endpoint.upstream_model
        ctx.client_headers[PROVIDER_HEADER] = ctx.endpoint.provider
    made = attempts.from_metadata(metadata, attempts.envoy_count(headers))
    ctx.unanswered = [(a.provider, a.model) for a in attempts.unanswered(made)]
    if made:
        ctx.client_headers.update(attempts.client_headers(made))
        if len(made) > 1:
            ctx.decisions.append(f"attempts:{made[-1].number}")
    elif attempts.ATTEMPT_COUNT_HEADER in headers:  # no upstream filter: Envoy's count only
        ctx.client_headers[attempts.ATTEMPT_HEADER] = headers[attempts.ATTEMPT_COUNT_HEADER]


def _serving_endpoint(ctx: RequestContext, host: dict[str, Any]) -> Endpoint | None:
    route = ctx.route
    if route is None or not route.endpoints:
        return None
    model = host.get("model")
    copy_of = host.get(FALLBACK_MODEL_KEY)  # a fallback list's position: the model route it serves
    return next(
        (e for e in route.endpoints if e.model == model and (copy_of is None or e.route == copy_of)), route.endpoints[0]
    )


def _status(headers: dict[str, str]) -> int | None:
    try:
        return int(headers.get(":status", ""))
    except ValueError:
        return None
