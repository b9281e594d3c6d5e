"""Cache policies read from envoy.yaml: the shipped default, tiers, overrides and plain-word errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from extproc.cache.policy import load_cache_policies
from extproc.catalog import iter_routes
from extproc.config import DEFAULT_CONFIG
from extproc.settings import SettingsError, tenancy_metadata

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
    ],
)
def test_mistakes_are_named_in_plain_words(cache: dict[str, Any], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        load_cache_policies(with_cache(cache))
