"""Cost estimates before the call: prompt tokens counted, completion bounded.

The estimate of a request on an endpoint is the price of its prompt (counted
with LiteLLM's token counter for that model) plus the price of the largest
completion it allows: `max_completion_tokens` or `max_tokens` times `n`, or
the model's maximum output when the request sets no bound. A route's estimate
is its dearest endpoint, since any of them may serve the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from extproc.config.catalog import Endpoint, ModelRoute
from extproc.cost.pricing import Pricing
from extproc.cost.usage import Usage
from extproc.translation import model_map

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EndpointEstimate:
    """The estimate for one endpoint of the route."""

    model: str
    provider: str
    prompt_tokens: int
    max_completion_tokens: int | None
    prompt_cost_usd: float | None
    max_cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the estimate endpoint's answer."""
        return {
            "model": self.model,
            "provider": self.provider,
            "prompt_tokens": self.prompt_tokens,
            "max_completion_tokens": self.max_completion_tokens,
            "prompt_cost_usd": self.prompt_cost_usd,
            "max_cost_usd": self.max_cost_usd,
        }


@dataclass(slots=True)
class Estimate:
    """The estimate for a request on a route."""

    route: str
    endpoints: list[EndpointEstimate]

    @property
    def max_cost_usd(self) -> float | None:
        """The dearest endpoint's bound, or None when some endpoint cannot be bounded."""
        costs = [e.max_cost_usd for e in self.endpoints]
        if not costs or any(c is None for c in costs):
            return None
        return max(c for c in costs if c is not None)

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens on the first endpoint (they differ little between tokenizers)."""
        return self.endpoints[0].prompt_tokens if self.endpoints else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer of the estimate endpoint and of a dry run."""
        return {
            "object": "gateway.cost_estimate",
            "model": self.route,
            "prompt_tokens": self.prompt_tokens,
            "max_cost_usd": self.max_cost_usd,
            "endpoints": [e.as_dict() for e in self.endpoints],
        }


class Estimator:
    """Estimates requests with LiteLLM's token counter and the gateway's prices."""

    def __init__(self, pricing: Pricing) -> None:
        self._pricing = pricing
        self._max_output: dict[str, int | None] = {}

    def estimate(self, route: ModelRoute, body: dict[str, Any], kind: str) -> Estimate:
        """The estimate of a canonical request body on every endpoint of the route."""
        return Estimate(route.name, [self._on_endpoint(e, body, kind) for e in route.endpoints])

    def _on_endpoint(self, endpoint: Endpoint, body: dict[str, Any], kind: str) -> EndpointEstimate:
        prompt = self.prompt_tokens(endpoint.model, body, kind)
        completion = 0 if kind == "embeddings" else self._completion_bound(endpoint, body)
        prompt_cost = self._pricing.cost_usd(endpoint, Usage(prompt_tokens=prompt))
        max_cost = None
        if completion is not None:
            max_cost = self._pricing.cost_usd(endpoint, Usage(prompt_tokens=prompt, completion_tokens=completion))
        return EndpointEstimate(endpoint.upstream_model, endpoint.provider, prompt, completion, prompt_cost, max_cost)

    def prompt_tokens(self, model: str, body: dict[str, Any], kind: str) -> int:
        """Prompt tokens of a canonical chat or embeddings body, counted for `model`."""
        try:
            if kind == "embeddings":
                inputs = body.get("input")
                texts = [inputs] if isinstance(inputs, str) else inputs or []
                if texts and not isinstance(texts[0], str):  # token ids: already counted
                    return sum(len(t) if isinstance(t, list) else 1 for t in texts)
                return sum(model_map.count_text(model, t) for t in texts)
            return model_map.count_messages(model, body.get("messages") or [], body.get("tools"))
        except Exception as exc:  # the counter chokes on content it does not know (audio parts, ...)
            log.warning("token counter failed for %s: %s", model, type(exc).__name__)
            return 0

    def completion_tokens(self, model: str, text: str) -> int:
        """Tokens of a completion's text, counted for `model` (usage estimates)."""
        try:
            return model_map.count_text(model, text, completion=True)
        except Exception as exc:
            log.warning("token counter failed for %s: %s", model, type(exc).__name__)
            return 0

    def worst_case_usd(
        self,
        route: ModelRoute,
        body: dict[str, Any],
        kind: str,
        prompt_tokens: int,
        max_priority: int | None,
        unbounded_completion: int,
    ) -> float:
        """The most a request may cost on any endpoint it may reach (priority up to `max_priority`).

        The prompt counts as `prompt_tokens` everywhere (counted once); the completion is
        `max_tokens` times `n`, else the model's maximum output, else `unbounded_completion`
        times `n`. An endpoint without a known price adds nothing: nothing could be charged
        for it either.
        """
        worst = 0.0
        for endpoint in route.endpoints:
            if max_priority is not None and endpoint.priority > max_priority:
                continue
            completion = 0 if kind == "embeddings" else self._completion_bound(endpoint, body, unbounded_completion)
            cost = self._pricing.cost_usd(endpoint, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion or 0))
            worst = max(worst, cost or 0.0)
        return worst

    def _completion_bound(self, endpoint: Endpoint, body: dict[str, Any], unbounded: int | None = None) -> int | None:
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            limit = self.max_output_tokens(endpoint.model) or unbounded
        if limit is None:
            return None
        n = body.get("n")
        return limit * (n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1)

    def max_output_tokens(self, model: str) -> int | None:
        """The most tokens `model` may answer with, from LiteLLM's model map (None: unknown)."""
        if model not in self._max_output:
            try:
                info = model_map.model_info(model)
                value = info.get("max_output_tokens") or info.get("max_tokens")
            except Exception:
                value = None
            self._max_output[model] = int(value) if isinstance(value, int) else None
        return self._max_output[model]
