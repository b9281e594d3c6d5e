"""What a request's end reports: the dynamic metadata of its access-log line, and its metrics.

Envoy writes one JSON line per request; the service's decisions reach it as
dynamic metadata under `llm_gateway`: with the request (what Envoy's own
error replies need), with the answer, or with a reply the service made
itself (a refusal, a cache hit).
"""

from __future__ import annotations

import time

import orjson

from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.errors import MAX_MESSAGE_CHARS, clipped
from extproc.telemetry import metrics
from extproc.upstream import attempts

UPSTREAM_SERVICE_TIME_HEADER = "x-envoy-upstream-service-time"
# A route's `privacy.log_text` puts at most this much of the prompt and of the completion in the log line.
LOGGED_TEXT_CHARS = 8192


def request_metadata(ctx: RequestContext, client_format: str | None) -> dict[str, object]:
    """What the log line and the upstream filter need once the request is routed."""
    return {
        "tenant": ctx.tenant,
        # Envoy's local_reply_config answers in this format when the provider fails.
        "client_format": client_format,
        "requested_model": clipped(ctx.requested_model),
        "route": ctx.route.name if ctx.route else None,
        "stream": ctx.stream,
        # The upstream filter refuses fallbacks beyond this level (cost cap).
        "max_priority": ctx.max_priority,
        **_prompt(ctx),
        **routing_metadata(ctx),
    }


def routing_metadata(ctx: RequestContext) -> dict[str, object]:
    """Why a routing policy chose the route, for the log line (nothing when no policy chose)."""
    decision = ctx.routing
    if decision is None:
        return {}
    return {
        "route_reason": decision.reason,
        "routing_policy": decision.policy,
        "split_arm": decision.arm,
        "task": decision.task,
        "complexity": decision.complexity,
    }


def response_metadata(ctx: RequestContext, client_format: str | None) -> dict[str, object]:
    """The log line's fields for an answer (from a provider, or from the cache)."""
    meta: dict[str, object] = {
        **request_metadata(ctx, client_format),
        "served_model": ctx.served_model,
        "provider": ctx.endpoint.provider if ctx.endpoint else None,
        "decisions": list(ctx.decisions),
        "attempts": ctx.client_headers.get(attempts.ATTEMPTS_HEADER),
        "error": clipped(ctx.error, MAX_MESSAGE_CHARS),
        "cache": ctx.cache_outcome or "off",
    }
    if ctx.cache_hit is not None:
        meta["served_model"], meta["provider"] = ctx.cache_hit.served_model, ctx.cache_hit.provider
    if ctx.cache_saved_usd is not None:
        meta["cache_saved_usd"] = ctx.cache_saved_usd
    if ctx.usage is not None:
        meta["prompt_tokens"] = ctx.usage.prompt_tokens
        meta["completion_tokens"] = ctx.usage.completion_tokens
    if ctx.cost_usd is not None:
        meta["cost_usd"] = ctx.cost_usd
    if ctx.redactions:
        meta["redactions"] = ctx.redactions
    guard = ctx.output_guard
    if guard is not None and guard.counts:
        meta["output_policy"] = {"action": "block" if guard.blocked else "mask", "entities": dict(guard.counts)}
    if ctx.log_text:
        meta.update(_logged_text(ctx))
    return meta


def reply_metadata(ctx: RequestContext, client_format: str | None, reply: Reply) -> dict[str, object]:
    """The log line's fields for a request the service answered itself (a refusal, a cache hit)."""
    if ctx.cache_hit is not None and reply.status == 200:
        return response_metadata(ctx, client_format)
    return {
        "tenant": ctx.tenant,
        "requested_model": clipped(ctx.requested_model),
        "decisions": list(ctx.decisions),
        "error": clipped(reply.reason, MAX_MESSAGE_CHARS) or None,
        **_prompt(ctx),
        **routing_metadata(ctx),
    }


def record_answer(ctx: RequestContext) -> None:
    """The metrics of one answered (or failed, or abandoned) forwarded request."""
    usage, endpoint = ctx.usage, ctx.endpoint
    metrics.record_answer(
        route=ctx.route.name if ctx.route else None,
        model=endpoint.upstream_model if endpoint else None,
        response_model=usage.model if usage else None,
        provider=endpoint.provider if endpoint else None,
        tenant=ctx.tenant,
        status=ctx.status,
        stream=ctx.stream,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cached_tokens=usage.cached_tokens if usage else None,
        cost_usd=ctx.cost_usd,
        usage_estimated=ctx.usage_estimated,
        duration_s=ctx.elapsed_ms() / 1000.0,
        operation=ctx.kind,  # "chat" or "embeddings": the GenAI operation names
        attempt=_int_or_none(ctx.client_headers.get(attempts.ATTEMPT_HEADER)),
        time_to_first_token_s=ctx.first_output_at - ctx.started if ctx.first_output_at is not None else None,
        time_per_output_token_s=_time_per_output_token(ctx),
        upstream_latency_s=_seconds(ctx.response_headers.get(UPSTREAM_SERVICE_TIME_HEADER)),
    )
    decision = ctx.routing
    if decision is not None:
        metrics.record_routing(
            policy=decision.policy,
            reason=decision.reason,
            model=ctx.route.name if ctx.route else decision.model,
            task=decision.task,
            complexity=decision.complexity,
            cost_usd=ctx.cost_usd,
        )


def _prompt(ctx: RequestContext) -> dict[str, object]:
    """The prompt and version a request was expanded from (nothing when it named none, or its prompt failed)."""
    return {"prompt": ctx.prompt_name, "prompt_version": ctx.prompt_version} if ctx.prompt_name else {}


def _logged_text(ctx: RequestContext) -> dict[str, str]:
    """The prompt as the provider got it and the completion as the policy let it out, for a route
    that opted in; cut at LOGGED_TEXT_CHARS each."""
    prompt = orjson.dumps((ctx.body or {}).get("messages") or (ctx.body or {}).get("input")).decode()
    completion = "".join(ctx.completion_text)
    if ctx.output_guard is not None:
        completion = ctx.output_guard.masked(completion)
    return {"prompt_text": _clip(prompt), "completion_text": _clip(completion)}


def _time_per_output_token(ctx: RequestContext) -> float | None:
    """A stream's time per output token after the first (None for buffered answers)."""
    tokens = ctx.usage.completion_tokens if ctx.usage else None
    if ctx.first_output_at is None or not tokens or tokens < 2:
        return None
    return (time.monotonic() - ctx.first_output_at) / (tokens - 1)


def _seconds(milliseconds: str | None) -> float | None:
    value = _int_or_none(milliseconds)
    return value / 1000.0 if value is not None else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _clip(text: str) -> str:
    return text if len(text) <= LOGGED_TEXT_CHARS else text[:LOGGED_TEXT_CHARS] + "...[cut]"
