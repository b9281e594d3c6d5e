"""Prices: the gateway's fast path must charge exactly what LiteLLM's cost map says."""

from __future__ import annotations

import logging

import pytest

from extproc.config.catalog import Endpoint, provider_of
from extproc.cost.pricing import Pricing
from extproc.cost.usage import Usage

# LITELLM_LOCAL_MODEL_COST_MAP=True is set by tests/conftest.py: the cost map is the bundled one.

MODELS = [
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-4.1",
    "anthropic/claude-sonnet-4-5",
    "anthropic/claude-haiku-4-5",
    "gemini/gemini-2.5-flash",
    "gemini/gemini-2.5-flash-lite",
    "mistral/mistral-large-latest",
    "mistral/mistral-small-latest",
    "groq/openai/gpt-oss-120b",
    "groq/openai/gpt-oss-20b",
    "deepseek/deepseek-chat",
    "deepseek/deepseek-reasoner",
]
# (prompt, completion, cached prompt tokens)
USAGES = [(1, 1, 0), (1000, 500, 0), (1000, 500, 800), (5000, 20, 5000), (123_457, 9_876, 100_000)]


@pytest.fixture(scope="module")
def pricing() -> Pricing:
    return Pricing()


@pytest.fixture(scope="module")
def litellm(pricing: Pricing):  # noqa: ANN201 - the litellm module, already imported by Pricing
    import litellm

    return litellm


def _endpoint(model: str) -> Endpoint:
    return Endpoint(cluster="c", address="127.0.0.1:1", priority=0, model=model, provider=provider_of(model))


def _reference(litellm, model: str, prompt: int, completion: int, cached: int) -> float:  # noqa: ANN001
    prompt_cost, completion_cost = litellm.cost_per_token(
        model=model, prompt_tokens=prompt, completion_tokens=completion, cache_read_input_tokens=cached
    )
    return prompt_cost + completion_cost


@pytest.mark.parametrize("model", MODELS)
def test_cost_matches_litellm(pricing: Pricing, litellm, model: str) -> None:  # noqa: ANN001
    endpoint = _endpoint(model)
    # Several usages on the same Pricing: the first call caches rates, the rest use them.
    for prompt, completion, cached in USAGES:
        expected = _reference(litellm, model, prompt, completion, cached)
        assert expected > 0
        got = pricing.cost_usd(endpoint, Usage(prompt, completion, cached))
        assert got == pytest.approx(expected, rel=1e-9), (prompt, completion, cached)


def test_cached_tokens_are_cheaper_than_uncached(pricing: Pricing) -> None:
    endpoint = _endpoint("openai/gpt-4o")
    full = pricing.cost_usd(endpoint, Usage(prompt_tokens=10_000))
    cached = pricing.cost_usd(endpoint, Usage(prompt_tokens=10_000, cached_tokens=10_000))
    assert full is not None and cached is not None and 0 < cached < full


def test_no_tokens_cost_nothing(pricing: Pricing) -> None:
    assert pricing.cost_usd(_endpoint("openai/gpt-4o-mini"), Usage()) == 0


@pytest.mark.parametrize(("prompt", "cached"), [(300_000, 0), (300_000, 100_000), (150_000, 0)])
def test_tiered_model_matches_litellm_above_and_below_the_tier(
    pricing: Pricing, litellm, prompt: int, cached: int  # noqa: ANN001
) -> None:
    model = "gemini/gemini-2.5-pro"
    assert "input_cost_per_token_above_200k_tokens" in litellm.model_cost[model]
    expected = _reference(litellm, model, prompt, 1_000, cached)
    assert pricing.cost_usd(_endpoint(model), Usage(prompt, 1_000, cached)) == pytest.approx(expected, rel=1e-9)


def test_tier_price_applies_above_200k_tokens(pricing: Pricing) -> None:
    endpoint = _endpoint("gemini/gemini-2.5-pro")
    below = pricing.cost_usd(endpoint, Usage(prompt_tokens=100_000))
    above = pricing.cost_usd(endpoint, Usage(prompt_tokens=300_000))
    assert below is not None and above is not None
    assert above / 300_000 > below / 100_000  # the per-token rate went up


@pytest.mark.parametrize("model", ["dashscope/qwen3-max", "volcengine/doubao-seed-2-0-lite-260215"])
def test_tiered_pricing_list_models_match_litellm(pricing: Pricing, litellm, model: str) -> None:  # noqa: ANN001
    assert "tiered_pricing" in litellm.model_cost[model]
    expected = _reference(litellm, model, 1000, 500, 0)
    assert pricing.cost_usd(_endpoint(model), Usage(1000, 500)) == pytest.approx(expected, rel=1e-9)


def test_unknown_model_has_no_price_and_does_not_raise(pricing: Pricing, caplog: pytest.LogCaptureFixture) -> None:
    endpoint = _endpoint("hosted_vllm/foo")
    with caplog.at_level(logging.WARNING, logger="extproc.cost.pricing"):
        assert pricing.cost_usd(endpoint, Usage(10, 10)) is None
        assert pricing.cost_usd(endpoint, Usage(20, 5)) is None
    assert any("hosted_vllm/foo" in r.getMessage() for r in caplog.records)


def test_a_cache_duration_price_does_not_force_the_slow_path(pricing: Pricing) -> None:
    # claude-haiku-4-5 has `cache_creation_input_token_cost_above_1hr`: a cache duration, not a size tier.
    pricing.cost_usd(_endpoint("anthropic/claude-haiku-4-5"), Usage(prompt_tokens=10, completion_tokens=5))
    assert pricing._rates["anthropic/claude-haiku-4-5"] is not None  # the fast path's cache
