"""The seed's answer shapes: a query's answer, a dry run, a cost estimate, and `/api/status`.

Each takes what the gateway's pipeline produced (the canonical chat completion, its usage and
price, or the cost-control stage's estimate as `Estimate.as_dict()` gives it) and returns the
JSON object to send. `num_tokens` is the total; `token_usage` breaks it down (cached prompt
tokens included, which LiteLLM's proxy drops on streams).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extproc.cost.usage import Usage, usage_from_openai
from extproc.seed_api.requests import SeedQuery

CURRENCY = "USD"


def query_response(
    query: SeedQuery,
    answer: Mapping[str, Any],
    *,
    cost_usd: float | None,
    usage: Usage | None = None,
    routed_model: str | None = None,
    provider: str | None = None,
    gateway_request_id: str | None = None,
    cache: str | None = None,
    estimated_max_cost_usd: float | None = None,
) -> dict[str, Any]:
    """A query's answer in the seed's shape. `usage` overrides the answer's own (an estimated usage);
    `routed_model` is the configured model routing chose when the query asked for `auto`."""
    counted = usage or usage_from_openai(dict(answer)) or Usage()
    choices = answer.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    content = message.get("content")
    return {
        "object": "gateway.query",
        "status": "success",
        "request_id": query.request_id or gateway_request_id,
        "gateway_request_id": gateway_request_id,
        "response": content if isinstance(content, str) else "",
        "model": routed_model or query.model,
        "model_version": answer.get("model") if isinstance(answer.get("model"), str) else None,
        "provider": provider,
        "task_type": query.task_type,
        "finish_reason": first.get("finish_reason"),
        "num_tokens": counted.total_tokens,
        "token_usage": token_usage(counted, answer.get("usage")),
        "cost": {"total_usd": cost_usd, "estimated_max_usd": estimated_max_cost_usd, "currency": CURRENCY},
        "cache": cache,
        "dry_run": False,
        "created": answer.get("created"),
    }


def dry_run_response(
    query: SeedQuery, estimate: Mapping[str, Any], gateway_request_id: str | None = None
) -> dict[str, Any]:
    """A query with `dry_run: true`: no answer, what it would cost at most, nothing spent."""
    dearest = _dearest(estimate)
    prompt_tokens = int(estimate.get("prompt_tokens") or 0)
    completion_bound = dearest.get("max_completion_tokens") if dearest else None
    return {
        "object": "gateway.query",
        "status": "dry_run",
        "request_id": query.request_id or gateway_request_id,
        "gateway_request_id": gateway_request_id,
        "response": None,
        "model": estimate.get("model", query.model),
        "model_version": dearest.get("model") if dearest else None,
        "provider": dearest.get("provider") if dearest else None,
        "task_type": query.task_type,
        "finish_reason": None,
        "num_tokens": prompt_tokens,
        "token_usage": {
            "prompt_tokens": prompt_tokens,
            "cached_tokens": 0,
            "uncached_prompt_tokens": prompt_tokens,
            "completion_tokens": completion_bound,
            "reasoning_tokens": None,
            "total_tokens": prompt_tokens + completion_bound if completion_bound is not None else None,
        },
        "cost": {"total_usd": 0.0, "estimated_max_usd": estimate.get("max_cost_usd"), "currency": CURRENCY},
        "cache": None,
        "dry_run": True,
        "created": None,
    }


def estimate_response(
    query: SeedQuery, estimate: Mapping[str, Any], gateway_request_id: str | None = None
) -> dict[str, Any]:
    """`/v1/gateway/cost-estimate` in the seed's shape: the dearest endpoint's prompt and response costs."""
    dearest = _dearest(estimate)
    total = estimate.get("max_cost_usd")
    prompt_cost = dearest.get("prompt_cost_usd") if dearest else None
    response_cost = round(total - prompt_cost, 12) if total is not None and prompt_cost is not None else None
    return {
        "object": "gateway.cost_estimate",
        "request_id": query.request_id or gateway_request_id,
        "model": estimate.get("model", query.model),
        "model_version": dearest.get("model") if dearest else None,
        "provider": dearest.get("provider") if dearest else None,
        "task_type": query.task_type,
        "num_tokens": int(estimate.get("prompt_tokens") or 0),
        "expected_response_tokens": dearest.get("max_completion_tokens") if dearest else query.max_tokens,
        "cost_estimate": {
            "prompt_usd": prompt_cost,
            "response_usd": response_cost,
            "total_usd": total,
            "currency": CURRENCY,
        },
        "endpoints": list(estimate.get("endpoints") or []),
    }


def status_response(providers: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """`/api/status`: each provider's health from (healthy endpoints, endpoints) as Envoy counts them."""
    shown: dict[str, dict[str, Any]] = {}
    for name, (healthy, total) in sorted(providers.items()):
        state = "up" if total and healthy >= total else "down" if healthy <= 0 else "degraded"
        shown[name] = {"status": state, "healthy_endpoints": healthy, "endpoints": total}
    states = {p["status"] for p in shown.values()}
    overall = "ok" if states == {"up"} else "down" if not states or states == {"down"} else "degraded"
    return {"status": overall, "providers": shown}


def token_usage(counted: Usage, raw: Any = None) -> dict[str, Any]:
    """The detailed breakdown: prompt (cached and not), completion (reasoning among them), total."""
    details = raw.get("completion_tokens_details") if isinstance(raw, dict) else None
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return {
        "prompt_tokens": counted.prompt_tokens,
        "cached_tokens": counted.cached_tokens,
        "uncached_prompt_tokens": max(0, counted.prompt_tokens - counted.cached_tokens),
        "completion_tokens": counted.completion_tokens,
        "reasoning_tokens": reasoning if isinstance(reasoning, int) and not isinstance(reasoning, bool) else None,
        "total_tokens": counted.total_tokens,
    }


def _dearest(estimate: Mapping[str, Any]) -> dict[str, Any]:
    """The endpoint whose bound is the estimate's (the dearest; the first when none is bounded)."""
    endpoints = [e for e in estimate.get("endpoints") or [] if isinstance(e, dict)]
    if not endpoints:
        return {}
    bounded = [e for e in endpoints if isinstance(e.get("max_cost_usd"), (int, float))]
    return max(bounded, key=lambda e: e["max_cost_usd"]) if bounded else endpoints[0]
