"""Cache policies read from envoy.yaml: the shipped default, tiers, overrides and plain-word errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from extproc.cache.policy import load_cache_policies
from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_routes
from extproc.tenancy.settings import SettingsError, tenancy_metadata

SHIPPED = yaml.safe_load(DEFAULT_CONFIG.read_text())
FREE = yaml.safe_load((DEFAULT_CONFIG.parent / "tiers" / "free.yaml").read_text())


def with_cache(default: Any, **routes: Any) -> dict[str, Any]:
    config = copy.deepcopy(SHIPPED)
    tenancy_metadata(config)["cache"] = default
    for route in iter_routes(config):
        llm = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if llm.get("model") in routes:
            llm["cache"] = routes[llm["model"]]
    return config


def test_the_shipped_config_caches_nothing_and_the_free_tier_caches_exactly() -> None:
    assert not load_cache_policies(SHIPPED).any_active
    free = load_cache_policies(FREE)
    assert free.for_model("gpt-4o").mode == "exact" and free.for_model("gpt-4o").ttl_seconds == 3600


def test_a_route_overrides_field_by_field() -> None:
    policies = load_cache_policies(with_cache({"mode": "exact", "ttl_seconds": 60}, **{"gpt-4o": {"max_temperature": 2}}))
    route = policies.for_model("gpt-4o")
    assert (route.mode, route.ttl_seconds, route.max_temperature) == ("exact", 60, 2.0)
    assert policies.for_model("gpt-4o-mini").max_temperature == 1.0


@pytest.mark.parametrize(
    ("cache", "words"),
    [
        ({"mode": "fuzzy"}, "cache.mode must be one of off, exact"),
        ({"ttl_seconds": 0}, "cache.ttl_seconds must be a positive whole number"),
        ({"max_temperature": 3}, "cache.max_temperature must be a number from 0 to 2"),
        ({"max_entries": -1}, "cache.max_entries must be a positive whole number"),
        ({"ttl": 5}, "does not know ttl"),
        ({"mode": "semantic", "threshold": 0.9, "max_error_rate": 0.01}, "sets both threshold and max_error_rate"),
        ({"max_error_rate": 0}, "cache.max_error_rate must be a number above 0 and at most 0.5"),
        ({"max_error_rate": "1%"}, "cache.max_error_rate must be a number"),
        ({"max_exploration_rate": 1.5}, "cache.max_exploration_rate must be a number from 0 to 1"),
        ({"compare": "judge"}, "cache.compare must be one of embedding, exact"),
        ({"answer_similarity": 0.2}, "cache.answer_similarity must be a number from 0.5 to 1"),
    ],
)
def test_mistakes_are_named_in_plain_words(cache: dict[str, Any], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        load_cache_policies(with_cache(cache))


def test_semantic_routes_learn_within_an_error_bound_unless_they_fix_a_threshold() -> None:
    policies = load_cache_policies(
        with_cache({"mode": "semantic", "max_error_rate": 0.02}, **{"gpt-4o": {"threshold": 0.9}})
    )
    default = policies.for_model("gpt-4o-mini")
    assert default.learned and default.max_error_rate == 0.02 and default.max_exploration_rate == 0.25
    assert default.compare == "embedding"
    fixed = policies.for_model("gpt-4o")
    assert not fixed.learned and fixed.threshold == 0.9
    # The other way round: a route asking for a bound learns where the default is fixed.
    policies = load_cache_policies(with_cache({"mode": "semantic", "threshold": 0.9}, **{"gpt-4o": {"max_error_rate": 0.005}}))
    assert not policies.for_model("gpt-4o-mini").learned
    assert policies.for_model("gpt-4o").learned and policies.for_model("gpt-4o").max_error_rate == 0.005
    with pytest.raises(SettingsError, match="model 'gpt-4o' cache sets both"):
        load_cache_policies(with_cache({"mode": "semantic"}, **{"gpt-4o": {"threshold": 0.9, "max_error_rate": 0.01}}))
