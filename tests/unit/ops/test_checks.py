"""`llm-gateway check`: the shipped config passes; each mistake is a sentence an operator can act on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, gateway_section, iter_routes
from extproc.ops.checks import Report, check_config

SHIPPED = Path(__file__).resolve().parents[3] / "envoy" / "envoy.yaml"


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


@pytest.fixture
def check(tmp_path: Path) -> Callable[..., Report]:
    def run(config: Any, run_envoy: bool = False, environ: dict[str, str] | None = None) -> Report:
        path = tmp_path / "envoy.yaml"
        path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
        return check_config(path, run_envoy=run_envoy, environ=environ or {})

    return run


def _http_filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]


def _provider_meta(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        lb["metadata"]["filter_metadata"]["llm_gateway"]
        for cluster in config["static_resources"]["clusters"]
        for locality in cluster["load_assignment"]["endpoints"]
        for lb in locality["lb_endpoints"]
        if "metadata" in lb
    ]


def test_shipped_config_is_ok_including_envoys_own_validation() -> None:
    report = check_config(SHIPPED, run_envoy=True, environ={})
    assert report.ok, report.problems
    assert report.warnings == []
    assert report.summary == (
        "8 models (claude-haiku-4-5, gemini-2.5-flash, gpt-4o, gpt-4o-mini, llama-3.1-8b, qwen2.5-coder, reliable, "
        "text-embedding-3-small), 1 routed by policy (auto) and 9 aliases."
    )


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    report = check_config(tmp_path / "missing.yaml", run_envoy=False, environ={})
    assert not report.ok and report.problems[0].startswith("Cannot read")


def test_not_yaml(check: Callable[..., Report]) -> None:
    report = check("static_resources: [unclosed\n")
    assert not report.ok and "is not valid YAML" in report.problems[0]


@pytest.mark.parametrize("text", ["admin: {}\n", "- a list\n", "just text\n", ""])
def test_not_an_envoy_bootstrap(check: Callable[..., Report], text: str) -> None:
    [problem] = check(text).problems
    assert "no `static_resources` section" in problem


def test_no_ext_proc_filter(check: Callable[..., Report], config: dict[str, Any]) -> None:
    filters = _http_filters(config)
    filters[:] = [f for f in filters if f["name"] != "envoy.filters.http.ext_proc"]
    report = check(config)
    assert report.problems == [
        "The HTTP connection manager has no ext_proc filter: no request would be checked or routed."
    ]


def test_ext_proc_after_the_router(check: Callable[..., Report], config: dict[str, Any]) -> None:
    filters = _http_filters(config)
    router = next(f for f in filters if f["name"] == "envoy.filters.http.router")
    filters.remove(router)
    filters.insert(0, router)
    assert any("after the router filter" in p for p in check(config).problems)


def test_missing_extproc_cluster(check: Callable[..., Report], config: dict[str, Any]) -> None:
    clusters = config["static_resources"]["clusters"]
    clusters[:] = [c for c in clusters if c["name"] != "llm_gateway_extproc"]
    [problem] = check(config).problems
    assert "`llm_gateway_extproc` cluster" in problem


def test_no_models(check: Callable[..., Report], config: dict[str, Any]) -> None:
    for route in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"
    ]["virtual_hosts"][0]["routes"]:
        route.pop("metadata", None)
    [problem] = check(config).problems
    assert problem.startswith("No model is defined")


def test_an_endpoint_without_its_model_string_is_named(check: Callable[..., Report], config: dict[str, Any]) -> None:
    _provider_meta(config)[0].pop("model")
    [problem] = check(config).problems
    assert problem.startswith("cluster 'fake_openai_gpt_4o_mini' endpoint 127.0.0.1:9000: llm_gateway lacks model")


def test_catalog_errors_are_reported_as_model_route_problems(
    check: Callable[..., Report], config: dict[str, Any]
) -> None:
    [route] = [r for r in iter_routes(config) if (gateway_section(r) or {}).get("model") == "gpt-4o"]
    route["route"]["cluster"] = "nowhere"
    [problem] = check(config).problems
    assert problem.startswith("Model routes:") and "'nowhere', which is not defined" in problem


def test_a_model_whose_cluster_has_no_endpoints(check: Callable[..., Report], config: dict[str, Any]) -> None:
    [cluster] = [c for c in config["static_resources"]["clusters"] if c["name"] == "fake_openai_gpt_4o"]
    cluster["load_assignment"]["endpoints"] = []
    [problem] = check(config).problems
    assert "'gpt-4o'" in problem and "no endpoints" in problem


def test_envoy_rejecting_an_unknown_field(check: Callable[..., Report], config: dict[str, Any]) -> None:
    config["static_resources"]["clusters"][0]["bogus_field"] = 1
    assert check(config, run_envoy=False).ok  # only Envoy knows its schema
    [problem] = check(config, run_envoy=True).problems
    assert problem.startswith("Envoy rejects the configuration:") and "bogus_field" in problem


def test_a_missing_provider_key_variable_is_a_warning(check: Callable[..., Report], config: dict[str, Any]) -> None:
    _provider_meta(config)[0]["api_key_env"] = "OPENAI_API_KEY"
    report = check(config)
    assert report.ok
    [warning] = report.warnings
    assert "OPENAI_API_KEY is not set" in warning and "503" in warning
    assert check(config, environ={"OPENAI_API_KEY": "sk-x"}).warnings == []


def test_a_missing_key_file_is_a_warning(
    check: Callable[..., Report], config: dict[str, Any], tmp_path: Path
) -> None:
    meta = _provider_meta(config)[0]
    del meta["api_key_env"]
    meta["api_key_file"] = str(tmp_path / "nope.key")
    report = check(config)
    assert report.ok and report.warnings == [f"Model 'gpt-4o-mini': key file {tmp_path / 'nope.key'} does not exist."]


def test_an_endpoint_whose_provider_cannot_be_translated_is_a_problem(tmp_path: Path) -> None:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == "fake_anthropic_claude_haiku":
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
            endpoint["metadata"]["filter_metadata"]["llm_gateway"]["model"] = "nosuchprovider/some-model"
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    report = check_config(path, run_envoy=False, environ={})
    [problem] = [p for p in report.problems if p.startswith("Provider endpoints")]
    assert "nosuchprovider/some-model" in problem and "fake_anthropic_claude_haiku" in problem


def _reliable_route(config: dict[str, Any]) -> dict[str, Any]:
    routes = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"][
        "virtual_hosts"
    ][0]["routes"]
    return next(r for r in routes if (r.get("metadata") or {}).get("filter_metadata", {}).get("llm_gateway", {}).get("model") == "reliable")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda policy: policy.update(num_retries=1), "the last 1 level(s) are never tried"),
        (lambda policy: policy.pop("retry_priority"), "retries stay on the first level"),
    ],
)
def test_a_chain_its_retries_cannot_walk_is_a_warning(
    check: Callable[..., Report], config: dict[str, Any], change: Any, words: str
) -> None:
    route = _reliable_route(config)
    route["route"]["retry_policy"] = dict(route["route"]["retry_policy"])
    change(route["route"]["retry_policy"])
    [warning] = check(config).warnings
    assert "'reliable'" in warning and words in warning


def test_a_chain_without_a_retry_policy_is_a_warning(check: Callable[..., Report], config: dict[str, Any]) -> None:
    del _reliable_route(config)["route"]["retry_policy"]
    [warning] = check(config).warnings
    assert "'reliable' has 3 priority levels but no `retry_policy`" in warning


def _auto_routing(config: dict[str, Any]) -> dict[str, Any]:
    for vhost in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"
    ]["virtual_hosts"]:
        for route in vhost["routes"]:
            meta = (route.get("metadata") or {}).get("filter_metadata", {}).get("llm_gateway", {})
            if meta.get("model") == "auto":
                return meta["routing"]
    raise AssertionError("no auto route")


def test_a_routing_rule_naming_a_missing_model_is_a_problem(check: Callable[..., Report], config: dict[str, Any]) -> None:
    _auto_routing(config)["rules"][0]["model"] = "gpt-5"
    [problem] = check(config).problems
    assert problem.startswith("Routing policy:") and "'gpt-5', which does not exist" in problem and "gpt-4o-mini" in problem


def test_split_weights_that_do_not_add_up_are_a_problem(check: Callable[..., Report], config: dict[str, Any]) -> None:
    arms = [{"name": "control", "model": "gpt-4o-mini", "weight": 90}, {"name": "canary", "model": "claude", "weight": 5}]
    _auto_routing(config)["rules"].insert(0, {"name": "canary", "split": {"arms": arms}})
    [problem] = check(config).problems
    assert "weights add up to 95 (90 + 5), not 100" in problem


def test_a_rule_that_cannot_match_is_explained(check: Callable[..., Report], config: dict[str, Any]) -> None:
    rules = _auto_routing(config)["rules"]
    rules.insert(0, {"name": "everything", "model": "gpt-4o"})
    rules.insert(1, {"name": "internal", "when": {"header": {"name": "X-Gateway-Tier"}}, "model": "gpt-4o"})
    rules[-1]["classify"]["table"].append({"task": "code", "complexity": "simple", "model": "gpt-4o-mini"})
    report = check(config)
    assert report.ok
    text = "\n".join(report.warnings)
    assert "rule 'tools' can never match: rule 'everything' before it matches every request" in text
    assert "Envoy removes the x-gateway-* headers clients send (its header 'x-gateway-tier')" in text
    assert "table row 4 (task code and complexity simple -> gpt-4o-mini) can never match: row 1 (task code" in text


def test_a_tenant_allowed_a_missing_model_is_a_problem(check: Callable[..., Report], config: dict[str, Any]) -> None:
    vhost_meta = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"
    ]["virtual_hosts"][0]["metadata"]["filter_metadata"]["llm_gateway"]
    vhost_meta["tenants"] = {"trial": {"models": ["auto", "gpt-9"]}}
    [problem] = check(config).problems
    assert problem == "Tenant 'trial' may use models that do not exist: gpt-9."
