"""Routing policies read from envoy.yaml: the shipped one, and each mistake an operator can make, refused at start."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from extproc.config.catalog import CatalogError, load_catalog
from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.config.validation import ConfigError
from extproc.routing.policy import RoutingPolicies, load_routing
from extproc.tenancy.settings import SettingsError, tenancy_metadata
from tests.support.gateway_config import gateway_config, with_virtual_model

# The demo's models and a policy like its `auto`.
SHIPPED = with_virtual_model(gateway_config())


def _auto_policy(config: dict[str, Any]) -> dict[str, Any]:
    for route in iter_routes(config):
        meta = gateway_section(route) or {}
        if meta.get("model") == "auto":
            return meta["routing"]
    raise AssertionError("the config has no `auto` route")


def _load(routing: dict[str, Any] | None = None, gateway: dict[str, Any] | None = None) -> RoutingPolicies:
    config = copy.deepcopy(SHIPPED)
    if routing is not None:
        policy = _auto_policy(config)
        policy.clear()
        policy.update(routing)
    if gateway is not None:
        tenancy_metadata(config)["routing"] = gateway
    return load_routing(config, load_catalog(config))


def test_the_policy_loads_with_canonical_model_names() -> None:
    policies = _load()
    auto = policies.by_model["auto"]
    assert auto.default == "gpt-4o" and auto.classifies
    assert [rule.name for rule in auto.rules] == ["tools", "images", "long-context", "classifier"]
    assert auto.models() <= set(load_catalog(SHIPPED).routes)
    assert policies.max_fallback_models == 5


def test_aliases_in_a_policy_are_resolved_to_their_models() -> None:
    policy = _load({"default": "smart", "rules": [{"name": "cheap", "when": {"tools": False}, "model": "fast"}]}).by_model["auto"]
    assert policy.default == "gpt-4o" and policy.rules[0].model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("routing", "says"),
    [
        ({"rules": []}, "needs a `default`"),
        ({"default": "gpt-5-turbo"}, "names model 'gpt-5-turbo', which does not exist"),
        ({"default": "text-embedding-3-small"}, "which serves embeddings"),
        ({"default": "auto"}, "cannot pick another virtual model"),
        ({"default": "gpt-4o", "rules": [{"name": "x", "model": "gpt-4o-mini-typo"}]}, "does not exist"),
        ({"default": "gpt-4o", "rules": [{"model": "gpt-4o"}]}, "needs a `name`"),
        ({"default": "gpt-4o", "rules": [{"name": "x"}]}, "exactly one of model, split or classify"),
        ({"default": "gpt-4o", "rules": [{"name": "x", "model": "gpt-4o"}, {"name": "x", "model": "gpt-4o"}]}, "two rules named"),
        ({"default": "gpt-4o", "rules": [{"name": "x", "when": {"tool": True}, "model": "gpt-4o"}]}, "does not know tool (did you mean tools?)"),
        ({"default": "gpt-4o", "rules": [{"name": "x", "when": {"task": "poetry"}, "model": "gpt-4o"}]}, "unknown tasks poetry"),
        ({"default": "gpt-4o", "rules": [{"name": "x", "when": {"prompt_tokens": {"min": 10, "max": 5}}, "model": "gpt-4o"}]},
         "can never match"),
        ({"default": "gpt-4o", "rules": [{"name": "ab", "split": {"arms": [{"model": "gpt-4o", "weight": 90},
                                                                       {"model": "gpt-4o-mini", "weight": 20}]}}]},
         "add up to 110 (90 + 20), not 100"),
        ({"default": "gpt-4o", "rules": [{"name": "ab", "split": {"arms": [{"model": "gpt-4o", "weight": 100}]}}]},
         "at least two arms"),
        ({"default": "gpt-4o", "rules": [{"name": "ab", "split": {"arms": [{"model": "gpt-4o", "weight": 50},
                                                                       {"model": "gpt-4o", "weight": 50}]}}]},
         "same name"),
        ({"default": "gpt-4o", "rules": [{"name": "c", "classify": {"table": [{"task": "poetry", "model": "gpt-4o"}]}}]},
         "task must be one of"),
        ({"default": "gpt-4o", "rules": [{"name": "c", "classify": {"table": [{"model": "gpt-4o"}]}}]},
         "needs a task, a complexity or both"),
        ({"default": "gpt-4o", "rules": [{"name": "c", "classify": {"min_confidence": 1.5, "table": [{"complexity": "simple", "model": "gpt-4o"}]}}]},
         "min_confidence must be a number from 0 to 1"),
        ({"default": "gpt-4o", "conversation": {"ttl_seconds": 0}}, "ttl_seconds must be a positive whole number"),
    ],
)
def test_a_policy_mistake_is_refused_with_what_to_fix(routing: dict[str, Any], says: str) -> None:
    with pytest.raises(SettingsError, match="routing") as caught:
        _load(routing)
    assert says in str(caught.value)


def test_the_fallback_list_bound_is_checked() -> None:
    assert _load(gateway={"max_fallback_models": 3}).max_fallback_models == 3
    with pytest.raises(ConfigError, match="max_fallback_models"):
        _load(gateway={"max_fallback_models": 0})


def test_a_policy_route_that_also_names_a_cluster_is_refused() -> None:
    config = copy.deepcopy(SHIPPED)
    for route in iter_routes(config):
        if (gateway_section(route) or {}).get("model") == "auto":
            route.pop("direct_response")
            route["route"] = {"cluster": "fake_openai_gpt_4o"}
    with pytest.raises(CatalogError, match="a policy's route sends nowhere"):
        load_catalog(config)


def test_a_virtual_model_name_may_not_clash_with_a_model_or_alias() -> None:
    config = copy.deepcopy(SHIPPED)
    for route in iter_routes(config):
        meta = gateway_section(route) or {}
        if meta.get("model") == "auto":
            meta["aliases"] = ["fast"]
    with pytest.raises(CatalogError, match="'fast' is used by both"):
        load_catalog(config)
