"""Prices from LiteLLM's model cost map, fast enough for every request.

`litellm.cost_per_token` costs about 0.3 ms a call, too slow for the hot path.
Most models are priced linearly (a rate per prompt token, per completion
token, per cached token), so those rates are read once per model from
LiteLLM and cached; models with tiered prices (`..._above_200k_tokens` keys
or a `tiered_pricing` list) go through LiteLLM on every call.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from extproc.config.catalog import Endpoint
from extproc.cost.usage import Usage
from extproc.translation import model_map

log = logging.getLogger(__name__)

_MILLION = 1_000_000
_SIZE_TIER = re.compile(r"_above_\d+k_tokens")


@dataclass(frozen=True, slots=True)
class _Rates:
    prompt: float
    completion: float
    cached: float


class Pricing:
    """Cost in USD of a usage on an endpoint, from LiteLLM's cost map."""

    def __init__(self) -> None:
        # model -> linear rates, or None when the model needs LiteLLM on every call
        # (tiered prices) or has no price at all (see `_unpriced`).
        self._rates: dict[str, _Rates | None] = {}
        self._unpriced: set[str] = set()

    def cost_usd(self, endpoint: Endpoint, usage: Usage) -> float | None:
        """The cost of `usage` on `endpoint`, or None when LiteLLM has no price for it."""
        if endpoint.prices is not None:
            prices = endpoint.prices
            return _linear_cost(_Rates(prices.prompt, prices.completion, prices.cached), usage)
        model = endpoint.model
        if model in self._unpriced:
            return None
        if model not in self._rates:
            self._rates[model] = self._linear_rates(model)
        rates = self._rates[model]
        if rates is not None:
            return _linear_cost(rates, usage)
        return self.litellm_cost(model, usage)

    def litellm_cost(self, model: str, usage: Usage) -> float | None:
        """The cost as LiteLLM computes it (the slow path, and the reference)."""
        try:
            prompt, completion = model_map.cost_per_token(
                model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
            )
        except Exception as exc:  # LiteLLM raises several types for unmapped models
            if model not in self._unpriced:
                log.warning("no price for model %s in LiteLLM's cost map: %s", model, type(exc).__name__)
            self._unpriced.add(model)
            return None
        return float(prompt) + float(completion)

    def _linear_rates(self, model: str) -> _Rates | None:
        info = self._model_info(model)
        if info is None or _is_tiered(info):
            return None
        probe = Usage(prompt_tokens=_MILLION)
        prompt = self.litellm_cost(model, probe)
        if prompt is None:
            return None
        completion = self.litellm_cost(model, Usage(completion_tokens=_MILLION))
        cached = self.litellm_cost(model, Usage(prompt_tokens=_MILLION, cached_tokens=_MILLION))
        if completion is None or cached is None:
            return None
        return _Rates(prompt=prompt / _MILLION, completion=completion / _MILLION, cached=cached / _MILLION)

    def _model_info(self, model: str) -> dict[str, Any] | None:
        try:
            return model_map.model_info(model)
        except Exception:
            self._unpriced.add(model)
            log.warning("no price for model %s in LiteLLM's cost map", model)
            return None


def _linear_cost(rates: _Rates, usage: Usage) -> float:
    uncached = usage.prompt_tokens - usage.cached_tokens
    return uncached * rates.prompt + usage.cached_tokens * rates.cached + usage.completion_tokens * rates.completion


def _is_tiered(info: dict[str, Any]) -> bool:
    """True when the price per token depends on the request's size (no linear fast path).

    Size tiers are keys like `input_cost_per_token_above_200k_tokens`; other
    `above_` keys (`cache_creation_input_token_cost_above_1hr`, a cache
    duration) do not make a price depend on size.
    """
    return bool(info.get("tiered_pricing")) or any(_SIZE_TIER.search(key) and info[key] for key in info)


def format_usd(value: float) -> str:
    """A price without float noise or trailing zeros (`0.000135`)."""
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"
