"""`llm-gateway import-litellm`: a LiteLLM proxy config becomes an envoy.yaml that Envoy and the service accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.cache.policy import load_cache_policies
from extproc.config.catalog import load_catalog
from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.ops.checks import check_config
from extproc.ops.litellm_import import LiteLLMImportError, import_litellm
from extproc.tenancy.settings import load_settings, tenancy_metadata

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "litellm_config.yaml"
TEMPLATE = yaml.safe_load(DEFAULT_CONFIG.read_text())


def _import(config: dict[str, Any]) -> Any:
    return import_litellm(config, TEMPLATE)


@pytest.fixture(scope="module")
def example() -> Any:
    return _import(yaml.safe_load(EXAMPLE.read_text()))


def _route_config(config: dict[str, Any], model: str) -> dict[str, Any]:
    routes = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"][
        "virtual_hosts"
    ][0]["routes"]
    return next(r for r in routes if r.get("metadata", {}).get("filter_metadata", {}).get("llm_gateway", {}).get("model") == model)


def test_every_model_name_becomes_a_model_with_its_aliases(example: Any) -> None:
    catalog = load_catalog(example.config)
    assert set(catalog.routes) == {"gpt-4o", "claude", "local-llama", "embed"}
    assert catalog.resolve("smart") is catalog.routes["gpt-4o"]
    assert catalog.routes["embed"].kind == "embeddings"
    # The shipped demo models and the fail-open lane are gone.
    assert "fast" not in catalog.names() and catalog.lanes == ()


def test_fallbacks_become_priority_levels_each_translated_per_attempt(example: Any) -> None:
    chain = load_catalog(example.config).routes["local-llama"]
    assert [(e.priority, e.provider) for e in chain.endpoints] == [
        (0, "hosted_vllm"), (1, "anthropic"), (2, "openai"), (2, "azure"),
    ]  # fmt: skip
    assert chain.per_attempt
    azure = next(e for e in chain.endpoints if e.provider == "azure")
    assert azure.api_version == "2024-10-21" and azure.api_key_env == "AZURE_API_KEY"
    local = chain.endpoints[0]
    assert local.prices is not None and local.prices.prompt == 1e-7 and local.address == "10.0.0.5:8000"


def test_a_single_translated_deployment_keeps_the_per_attempt_filter_like_the_template(example: Any) -> None:
    """One Anthropic endpoint keeps the upstream filter, as the shipped template's translated clusters do
    (every attempt logged, retried resets charged); an OpenAI-wire one is prepared at the router."""
    catalog = load_catalog(example.config)
    claude = catalog.routes["claude"]
    assert [e.provider for e in claude.endpoints] == ["anthropic"] and claude.per_attempt
    assert any(not route.per_attempt for route in catalog.routes.values() if route.endpoints[0].provider == "openai")


def test_retries_reach_every_level_and_the_timeout_is_kept(example: Any) -> None:
    action = _route_config(example.config, "local-llama")["route"]
    assert action["timeout"] == "120s"
    assert action["retry_policy"]["num_retries"] == 2
    assert action["retry_policy"]["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"


def test_each_tls_provider_gets_its_own_sni(example: Any) -> None:
    cluster = next(c for c in example.config["static_resources"]["clusters"] if c["name"] == "litellm_local_llama")
    assert cluster["type"] == "STRICT_DNS"
    assert {m["name"] for m in cluster["transport_socket_matches"]} == {
        "api.anthropic.com", "api.openai.com", "example-eastus.openai.azure.com",
    }  # fmt: skip
    levels = cluster["load_assignment"]["endpoints"]
    anthropic = levels[1]["lb_endpoints"][0]
    assert anthropic["metadata"]["filter_metadata"]["envoy.transport_socket_match"] == {"sni": "api.anthropic.com"}
    assert anthropic["endpoint"]["address"]["socket_address"] == {"address": "api.anthropic.com", "port_value": 443}


def test_the_result_passes_check_and_envoys_validation(example: Any, tmp_path: Path) -> None:
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(example.config, sort_keys=False))
    environ = {"OPENAI_API_KEY": "x", "AZURE_API_KEY": "x", "ANTHROPIC_API_KEY": "x"}
    report = check_config(path, run_envoy=True, environ=environ)
    assert report.ok, report.problems
    assert report.warnings == []


def test_rpm_and_tpm_become_the_models_limits(example: Any) -> None:
    claude = _route_config(example.config, "claude")["metadata"]["filter_metadata"]["llm_gateway"]
    assert claude["limits"] == {"tokens_per_minute": 100000}
    # gpt-4o's rpm is on one of its two deployments only: no limit, and a note says why.
    gpt4o = _route_config(example.config, "gpt-4o")["metadata"]["filter_metadata"]["llm_gateway"]
    assert "limits" not in gpt4o
    notes = "\n".join(example.notes)
    assert "gpt-4o: `rpm` is set on some of its deployments only" in notes
    assert "claude: rpm/tpm became its route's `limits`" in notes and "per tenant" in notes
    settings = load_settings(example.config)
    assert settings.model_rates["claude"].tokens_per_minute == 100000


def test_deployment_limits_add_up_per_model() -> None:
    imported = _import({"model_list": [
        {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o", "rpm": 60, "tpm": 1000}},
        {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://10.0.0.9/v1", "rpm": 40, "tpm": 500}},
    ]})  # fmt: skip
    meta = _route_config(imported.config, "m")["metadata"]["filter_metadata"]["llm_gateway"]
    assert meta["limits"] == {"requests_per_minute": 100, "tokens_per_minute": 1500}


def test_the_cache_settings_become_the_gateways_cache(example: Any) -> None:
    assert tenancy_metadata(example.config)["cache"].items() >= {"mode": "exact", "ttl_seconds": 600}.items()
    assert load_cache_policies(example.config).default.mode == "exact"


@pytest.mark.parametrize(
    ("params", "cache", "words"),
    [
        ({"type": "redis", "host": "redis", "port": 6379, "ttl": 60}, {"mode": "exact", "ttl_seconds": 60}, "store: {kind: redis"),
        ({"type": "redis-semantic", "similarity_threshold": 0.9}, {"mode": "semantic", "threshold": 0.9}, "pgvector"),
        ({"mode": "default_off"}, {"mode": "off"}, "no per-request opt-in"),
        ({"type": "s3"}, {"mode": "off"}, "'s3' is not imported"),  # the template's stays
    ],
)  # fmt: skip
def test_each_litellm_cache_type_is_imported_or_said_not_to_be(params: dict[str, Any], cache: dict[str, Any], words: str) -> None:
    imported = _import({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}}],
                        "litellm_settings": {"cache": True, "cache_params": params}})  # fmt: skip
    assert tenancy_metadata(imported.config)["cache"].items() >= cache.items()
    assert words in "\n".join(imported.notes)
    load_cache_policies(imported.config)  # the service accepts what was written


def test_a_literal_key_is_never_copied() -> None:
    imported = _import({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-live-123"}}]})
    assert "sk-live-123" not in yaml.safe_dump(imported.config)
    [endpoint] = load_catalog(imported.config).routes["m"].endpoints
    assert endpoint.api_key_env == "M_API_KEY"
    assert any("M_API_KEY" in note and "not copied" in note for note in imported.notes)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({}, "no `model_list`"),
        ({"model_list": [{"model_name": "m", "litellm_params": {}}]}, "litellm_params.model"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x"}}],
          "router_settings": {"fallbacks": [{"m": ["nope"]}]}}, "'nope'"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "bedrock/x"}}]}, "no `api_base`"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x", "rpm": "lots"}}]}, "positive number"),
        ({"model_list": [{"model_name": "m", "litellm_params": "openai/x"}]}, "litellm_params must be a mapping"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x"}}], "litellm_settings": "x"},
         "litellm_settings must be a mapping"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x"}}],
          "litellm_settings": {"cache": True, "cache_params": "redis"}}, "cache_params must be a mapping"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x"}}],
          "litellm_settings": {"cache": True, "cache_params": {"type": "redis-semantic", "similarity_threshold": 5}}},
         "threshold"),
    ],
)  # fmt: skip
def test_an_unusable_config_is_refused_with_a_reason(config: dict[str, Any], words: str) -> None:
    with pytest.raises(LiteLLMImportError, match=words.replace("`", ".").replace("(", ".")):
        _import(config)
