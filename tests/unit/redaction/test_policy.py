"""Privacy policies read from envoy.yaml: defaults, per-route overrides, and plain-word errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_routes
from extproc.redaction.entities import ENTITIES
from extproc.redaction.policy import load_privacy
from extproc.tenancy.settings import SettingsError, tenancy_metadata

SHIPPED = yaml.safe_load(DEFAULT_CONFIG.read_text())


def with_privacy(default: Any = None, **routes: Any) -> dict[str, Any]:
    config = copy.deepcopy(SHIPPED)
    meta = tenancy_metadata(config)
    meta.pop("privacy", None)
    if default is not None:
        meta["privacy"] = default
    for route in iter_routes(config):
        llm = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        llm.pop("privacy", None)
        if llm.get("model") in routes:
            llm["privacy"] = routes[llm["model"]]
    return config


def test_the_shipped_config_masks_prompts_except_on_the_local_model() -> None:
    policies = load_privacy(SHIPPED)
    assert policies.for_model("gpt-4o").request.mode == "mask"
    assert policies.for_model("gpt-4o").request.entities == ENTITIES
    assert policies.for_model("gpt-4o").response.mode == "mask"
    assert policies.for_model("llama-3.1-8b").request.mode == "off"
    assert policies.for_model("llama-3.1-8b").response == policies.default.response  # only `request` overridden


def test_without_a_policy_nothing_is_redacted() -> None:
    policies = load_privacy(with_privacy())
    assert not policies.any_active and policies.for_model("gpt-4o").request.mode == "off"


def test_a_route_overrides_each_section_on_its_own() -> None:
    config = with_privacy(
        {"request": {"mode": "mask"}, "response": {"mode": "mask", "deny_list": ["Falcon"]}},
        **{"gpt-4o": {"request": {"mode": "restore", "entities": ["EMAIL_ADDRESS"]}, "log_text": True}},
    )
    route = load_privacy(config).for_model("gpt-4o")
    assert (route.request.mode, route.request.entities) == ("restore", ("EMAIL_ADDRESS",))
    assert route.response.deny_list == ("Falcon",) and route.log_text


def test_the_scan_budget_has_defaults_and_a_route_inherits_the_gateways_unless_it_sets_its_own() -> None:
    shipped = load_privacy(SHIPPED).default.request
    assert (shipped.max_scan_bytes, shipped.max_scan_seconds, shipped.over_budget, shipped.unscannable) == (
        4194304, 5.0, "refuse", "allow")  # fmt: skip
    config = with_privacy(
        {"request": {"mode": "mask", "max_scan_bytes": 2048, "max_scan_seconds": 1, "unscannable": "refuse"}},
        **{"gpt-4o": {"request": {"mode": "restore"}}, "gpt-4o-mini": {"request": {"max_scan_seconds": 0.5, "over_budget": "truncate"}}},
    )
    policies = load_privacy(config)
    inherited, own = policies.for_model("gpt-4o").request, policies.for_model("gpt-4o-mini").request
    assert (inherited.mode, inherited.max_scan_bytes, inherited.max_scan_seconds, inherited.unscannable) == ("restore", 2048, 1.0, "refuse")
    assert (own.max_scan_bytes, own.max_scan_seconds, own.over_budget) == (2048, 0.5, "truncate")


def test_yaml_off_without_quotes_means_off() -> None:
    assert load_privacy(with_privacy({"request": {"mode": False}})).default.request.mode == "off"


@pytest.mark.parametrize(
    ("privacy", "words"),
    [
        ({"request": {"mode": "redact"}}, "privacy.request.mode must be one of off, mask, block, restore"),
        ({"response": {"mode": "restore"}}, "privacy.response.mode must be one of off, mask, block"),
        ({"request": {"entities": ["PERSON"]}}, "unknown entity PERSON"),
        ({"response": {"holdback_chars": 64}}, "does not know holdback_chars"),
        ({"response": {"deny_list": "Falcon"}}, "deny_list must be a list of non-empty strings"),
        ({"requests": {}}, "does not know requests"),
        ({"log_text": "yes"}, "log_text must be true or false"),
        ({"request": {"max_scan_bytes": 0}}, "privacy.request.max_scan_bytes must be a positive whole number"),
        ({"request": {"max_scan_bytes": 1.5}}, "max_scan_bytes must be a positive whole number"),
        ({"request": {"max_scan_seconds": "5s"}}, "privacy.request.max_scan_seconds must be a positive number"),
        ({"request": {"over_budget": "allow"}}, "privacy.request.over_budget must be one of refuse, truncate"),
        ({"request": {"unscannable": "mask"}}, "privacy.request.unscannable must be one of allow, refuse"),
    ],
)
def test_mistakes_are_named_in_plain_words(privacy: dict[str, Any], words: str) -> None:
    with pytest.raises(SettingsError, match=words.replace("(", r"\(")):
        load_privacy(with_privacy(privacy))


def test_a_mistake_on_a_route_names_the_route() -> None:
    with pytest.raises(SettingsError, match="model 'gpt-4o' privacy.request.mode"):
        load_privacy(with_privacy(None, **{"gpt-4o": {"request": {"mode": "nope"}}}))
