"""The schema of every `llm_gateway` setting: the shipped files use nothing else, and a typo is an error."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from extproc.app import build_gateway
from extproc.cache.guards import GUARDS
from extproc.cache.labels import COMPARISONS
from extproc.config.envoy_yaml import DEFAULT_CONFIG, gateway_section, iter_routes, static_resources
from extproc.config.schema.cache import ALL_GUARDS, Comparison, Guard
from extproc.config.schema.privacy import ALL_ENTITIES, Entity
from extproc.config.schema.tenancy import DEFAULT_HOLD_TTL_S
from extproc.config.validation import ConfigError, config_problems, gateway_settings
from extproc.ops.checks import check_config
from extproc.redaction.entities import ENTITIES
from extproc.tenancy.limits.base import DEFAULT_HOLD_TTL_S as LIMITS_HOLD_TTL_S
from extproc.tenancy.settings import tenancy_metadata
from tests.support.lanes import with_example_lane

ROOT = Path(__file__).resolve().parents[3]
SHIPPED_FILES = [
    DEFAULT_CONFIG,
    *sorted((ROOT / "envoy" / "tiers").glob("*.yaml")),
    *sorted((ROOT / "deploy" / "kubernetes").rglob("envoy.yaml")),
]


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_of_every_shipped_file_is_in_the_schema(path: Path) -> None:
    # The walk reads every `llm_gateway` section wherever it is, so an unknown key or a section
    # the service would never read shows up here.
    assert config_problems(yaml.safe_load(path.read_text())) == []


def test_the_documented_lane_is_in_the_schema(tmp_path: Path) -> None:
    assert config_problems(with_example_lane(_shipped(), tmp_path / "users")) == []


def _typo_in_tenants(config: dict[str, Any]) -> None:
    meta = tenancy_metadata(config)
    meta["tenant"] = {"acme": {"per_tenant": {"requests_per_minute": 1}}}
    meta.pop("tenants")


def _typo_on_route(old: str, new: str) -> Any:
    def apply(config: dict[str, Any]) -> None:
        meta = gateway_section(next(r for r in iter_routes(config) if (gateway_section(r) or {}).get("model") == "gpt-4o"))
        assert meta is not None
        meta[new] = meta.pop(old) if old in meta else ["x"]
    return apply


def _typo_in_cache(config: dict[str, Any]) -> None:
    meta = tenancy_metadata(config)
    meta["cachee"] = meta.pop("cache")


def _typo_on_endpoint(config: dict[str, Any]) -> None:
    cluster = next(c for c in static_resources(config)["clusters"] if c["name"] == "fake_openai_gpt_4o")
    meta = gateway_section(cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0])
    assert meta is not None
    meta["api_key_envv"] = meta.pop("api_key_env")


# The typos a new user made, that `check` used to call OK while the setting silently vanished.
@pytest.mark.parametrize(
    ("typo", "words"),
    [
        (_typo_in_tenants, "virtual host 'llm': llm_gateway does not know tenant (did you mean tenants?)"),
        (_typo_on_route("aliases", "aliasses"), "model 'gpt-4o': llm_gateway does not know aliasses (did you mean aliases?)"),
        (_typo_in_cache, "virtual host 'llm': llm_gateway does not know cachee (did you mean cache?)"),
        (_typo_on_endpoint, "cluster 'fake_openai_gpt_4o' endpoint 127.0.0.1:9000: llm_gateway does not know api_key_envv "
                            "(did you mean api_key_env?)"),
        (_typo_on_route("limits", "limit"), "model 'gpt-4o': llm_gateway does not know limit (did you mean limits?)"),
    ],
    ids=["tenant", "aliasses", "cachee", "api_key_envv", "limit"],
)
def test_a_typo_is_a_problem_with_a_suggestion(typo: Any, words: str) -> None:
    config = _shipped()
    typo(config)
    problems = check_config_of(config)
    assert any(p.startswith(words) for p in problems), problems


def test_a_misspelt_model_is_two_problems_a_route_without_a_model_and_the_unknown_key() -> None:
    config = _shipped()
    _typo_on_route("model", "modle")(config)
    problems = check_config_of(config)
    assert "the route for x-gateway-model 'gpt-4o': llm_gateway lacks model (the name clients use; a route without it serves nothing)." in problems
    assert any("does not know modle (did you mean model?)" in p for p in problems)


def check_config_of(config: dict[str, Any]) -> list[str]:
    """The problems `llm-gateway check` reports for `config` (which must have some)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "envoy.yaml"
        path.write_text(yaml.safe_dump(config))
        report = check_config(path, run_envoy=False, environ={})
    assert not report.ok
    return report.problems


def test_every_mistake_is_listed_at_once() -> None:
    config = _shipped()
    meta = tenancy_metadata(config)
    meta["store"]["kind"] = "etcd"
    meta["limits"]["per_tenant"]["requests_per_minute"] = 0
    meta["privacy"]["log_text"] = "yes"
    with pytest.raises(ConfigError) as caught:
        gateway_settings(config)
    assert caught.value.problems == [
        "virtual host 'llm': store.kind must be one of sqlite, memory, redis; got 'etcd'",
        "virtual host 'llm': limits.per_tenant.requests_per_minute must be a positive whole number; got 0",
        "virtual host 'llm': privacy.log_text must be true or false; got 'yes'",
    ]


def test_settings_put_where_the_service_never_reads_them_are_a_problem() -> None:
    config = _shipped()
    cluster = static_resources(config)["clusters"][1]
    cluster["metadata"] = {"filter_metadata": {"llm_gateway": {"api_key_env": "OPENAI_API_KEY"}}}
    [problem] = config_problems(config)
    assert problem.startswith(f"static_resources.clusters[1] ({cluster['name']!r}): the service does not read")


def test_an_empty_key_means_unset_and_a_bare_off_means_off() -> None:
    config = _shipped()
    meta = tenancy_metadata(config)
    meta["tenants"] = None
    meta["cache"]["mode"] = False  # PyYAML's reading of `mode: off`
    settings = gateway_settings(config).virtual_host
    assert settings.tenants == {} and settings.cache.mode == "off"


def test_the_service_refuses_to_start_on_a_typo() -> None:
    config = _shipped()
    _typo_in_cache(config)
    with pytest.raises(ConfigError, match="did you mean cache"):
        build_gateway(copy.deepcopy(config))


def test_the_schema_names_what_the_code_knows() -> None:
    assert list(get_args(Guard)) == ALL_GUARDS == list(GUARDS)
    assert get_args(Comparison) == COMPARISONS
    assert tuple(get_args(Entity)) == tuple(ALL_ENTITIES) == ENTITIES
    assert DEFAULT_HOLD_TTL_S == LIMITS_HOLD_TTL_S
