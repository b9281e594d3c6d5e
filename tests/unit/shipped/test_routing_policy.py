"""The demo's `auto` routing policy (envoy/envoy.yaml): it loads, and routes the obvious cases where the docs say."""

from __future__ import annotations

import yaml

from extproc.config.catalog import load_catalog
from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.routing.classifier import Classifier
from extproc.routing.decide import decide
from extproc.routing.facts import RequestFacts
from extproc.routing.policy import load_routing, unreachable

SHIPPED = yaml.safe_load(DEFAULT_CONFIG.read_text())


def test_the_shipped_auto_policy_routes_code_greetings_and_analysis_as_documented() -> None:
    catalog = load_catalog(SHIPPED)
    policies = load_routing(SHIPPED, catalog)
    auto = policies.by_model["auto"]
    assert catalog.resolve_virtual("router") is catalog.virtual["auto"]
    assert auto.default == "gpt-4o" and [rule.name for rule in auto.rules] == ["tools", "images", "long-context", "classifier"]
    assert unreachable(auto) == [] and policies.max_fallback_models == 5
    classifier = Classifier.load()

    def routed(text: str) -> str:
        return decide(auto, RequestFacts(tenant="t"), [{"role": "user", "content": text}], classifier).model

    assert routed("Write a Python function that merges two sorted lists, with pytest tests.") == "qwen2.5-coder"
    assert routed("hi there, how are you?") == "gpt-4o-mini"
    assert routed(
        "Analyse the economic and social trade-offs of a four-day work week for a manufacturer, compare evidence "
        "from pilots in three countries, and recommend a rollout plan with its risks."
    ) == "gpt-4o"
