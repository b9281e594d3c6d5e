"""The model catalog read from envoy.yaml: models, aliases, endpoints, and config mistakes."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.config.catalog import Catalog, Endpoint, load_catalog
from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_connection_managers, iter_routes
from extproc.config.validation import ConfigError
from extproc.ops.launcher import envoy_binary
from tests.support.lanes import htpasswd_line, with_example_lane

SHIPPED = Path(__file__).resolve().parents[3] / "envoy" / "envoy.yaml"
UPSTREAM_EXT_PROC = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "http_filters": [{"name": "envoy.filters.http.ext_proc"}, {"name": "envoy.filters.http.upstream_codec"}]
    }
}


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog(yaml.safe_load(SHIPPED.read_text()))


def _route(model: str, cluster: str, header: str | None = None, aliases: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"model": model}
    if aliases is not None:
        meta["aliases"] = aliases
    return {
        "match": {"prefix": "/", "headers": [{"name": "x-gateway-model", "string_match": {"exact": header or model}}]},
        "route": {"cluster": cluster},
        "metadata": {"filter_metadata": {"llm_gateway": meta}},
    }


def _endpoint(meta: dict[str, Any] | None, port: int = 9000) -> dict[str, Any]:
    lb: dict[str, Any] = {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
    if meta is not None:
        lb["metadata"] = {"filter_metadata": {"llm_gateway": meta}}
    return lb


def _cluster(name: str, *endpoints: dict[str, Any], upstream_ext_proc: bool = False) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": list(endpoints)}]},
    }
    if upstream_ext_proc:
        cluster["typed_extension_protocol_options"] = UPSTREAM_EXT_PROC
    return cluster


def _config(routes: list[dict[str, Any]], clusters: list[dict[str, Any]]) -> dict[str, Any]:
    hcm = {"typed_config": {"route_config": {"virtual_hosts": [{"name": "llm", "routes": routes}]}}}
    return {
        "static_resources": {
            "listeners": [{"name": "l", "filter_chains": [{"filters": [hcm]}]}],
            "clusters": clusters,
        }
    }


# --- the shipped envoy.yaml ----------------------------------------------------


def test_shipped_config_offers_a_model_per_fake_wire(shipped: Catalog) -> None:
    assert set(shipped.routes) == {
        "gpt-4o", "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", "text-embedding-3-small", "llama-3.1-8b",
        "reliable", "qwen2.5-coder",
    }  # fmt: skip
    assert set(shipped.virtual) == {"auto"}
    assert {r.endpoints[0].provider for r in shipped.routes.values()} == {"openai", "anthropic", "gemini", "hosted_vllm"}
    assert shipped.routes["text-embedding-3-small"].kind == "embeddings"
    assert shipped.routes["claude-haiku-4-5"].kind == "chat"
    assert shipped.routes["gpt-4o"].cluster == "fake_openai_gpt_4o"
    assert shipped.routes["gpt-4o-mini"].cluster == "fake_openai_gpt_4o_mini"


def test_the_shipped_fallback_chain_goes_vllm_then_anthropic_then_openai(shipped: Catalog) -> None:
    chain = shipped.routes["reliable"]
    assert [(e.priority, e.provider) for e in chain.endpoints] == [(0, "hosted_vllm"), (1, "anthropic"), (2, "openai")]
    assert chain.priorities == (0, 1, 2) and chain.per_attempt
    assert chain.fallback_max_cost_usd == 0.5


@pytest.mark.parametrize("value", [-1, "cheap", True])
def test_a_bad_fallback_cost_cap_is_refused(value: object) -> None:
    route = _route("m", "c")
    route["metadata"]["filter_metadata"]["llm_gateway"]["fallback_max_cost_usd"] = value
    config = _config([route], [_cluster("c", _endpoint({"model": "openai/m"}))])
    with pytest.raises(ConfigError, match="fallback_max_cost_usd"):
        load_catalog(config)


@pytest.mark.parametrize(
    ("requested", "model"),
    [("fast", "gpt-4o-mini"), ("default", "gpt-4o-mini"), ("smart", "gpt-4o"), ("gpt-4o", "gpt-4o")],
)
def test_names_and_aliases_resolve_to_their_model(shipped: Catalog, requested: str, model: str) -> None:
    route = shipped.resolve(requested)
    assert route is not None and route.name == model


def test_unknown_name_does_not_resolve(shipped: Catalog) -> None:
    assert shipped.resolve("gpt-5") is None
    assert shipped.resolve("GPT-4O") is None


def test_names_lists_models_then_aliases_each_sorted(shipped: Catalog) -> None:
    assert shipped.names() == [
        *("claude-haiku-4-5", "gemini-2.5-flash", "gpt-4o", "gpt-4o-mini", "llama-3.1-8b", "qwen2.5-coder", "reliable"),
        "text-embedding-3-small",
        "auto",
        *("claude", "coder", "default", "embed", "fast", "gemini", "local", "router", "smart"),
    ]


def test_only_the_cluster_with_upstream_ext_proc_prepares_per_attempt(shipped: Catalog) -> None:
    assert shipped.routes["gpt-4o"].per_attempt is True
    assert shipped.routes["gpt-4o-mini"].per_attempt is False
    # The translated one-endpoint clusters keep the filter as shipped (the attempt log, resets
    # charged); a chain needs it.
    assert shipped.routes["claude-haiku-4-5"].per_attempt is True
    assert shipped.routes["reliable"].per_attempt is True


def test_a_one_endpoint_cluster_of_another_wire_format_without_the_filter_is_prepared_at_the_router() -> None:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    claude = next(c for c in config["static_resources"]["clusters"] if c["name"] == "fake_anthropic_claude_haiku")
    del claude["typed_extension_protocol_options"]
    route = load_catalog(config).routes["claude-haiku-4-5"]
    assert [e.provider for e in route.endpoints] == ["anthropic"] and route.per_attempt is False


def test_shipped_endpoints_carry_their_metadata(shipped: Catalog) -> None:
    [endpoint] = shipped.routes["gpt-4o-mini"].endpoints
    assert endpoint.model == "openai/gpt-4o-mini"
    assert endpoint.provider == "openai"
    assert endpoint.api_base == "http://127.0.0.1:9000/v1"
    assert endpoint.api_key_env == "FAKE_PROVIDER_API_KEY"
    assert endpoint.address == "127.0.0.1:9000"
    assert endpoint.upstream_model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("model", "provider", "upstream"),
    [
        ("openai/gpt-4o", "openai", "gpt-4o"),
        ("hosted_vllm/meta-llama/Llama-3.1-8B", "hosted_vllm", "meta-llama/Llama-3.1-8B"),
        ("gpt-4o", "openai", "gpt-4o"),  # no prefix: nothing to strip
    ],
)
def test_upstream_model_strips_only_the_provider_prefix(model: str, provider: str, upstream: str) -> None:
    endpoint = Endpoint(cluster="c", address="a:1", priority=0, model=model, provider=provider)
    assert endpoint.upstream_model == upstream


def test_provider_defaults_to_the_model_prefix_and_priority_is_read() -> None:
    cluster = _cluster("c", _endpoint({"model": "mistral/mistral-small-latest"}))
    cluster["load_assignment"]["endpoints"].append(
        {"priority": 1, "lb_endpoints": [_endpoint({"model": "mistral/mistral-small-latest"}, port=9001)]}
    )
    catalog = load_catalog(_config([_route("small", "c")], [cluster]))
    first, fallback = catalog.routes["small"].endpoints
    assert (first.provider, first.priority, fallback.priority) == ("mistral", 0, 1)
    assert fallback.address == "127.0.0.1:9001"


def test_routes_without_gateway_metadata_are_not_models() -> None:
    catch_all = {"match": {"prefix": "/"}, "direct_response": {"status": 404}}
    config = _config([_route("m", "c"), catch_all], [_cluster("c", _endpoint({"model": "openai/m"}))])
    assert list(load_catalog(config).routes) == ["m"]


def test_a_cluster_with_upstream_ext_proc_may_mix_models() -> None:
    cluster = _cluster(
        "mixed", _endpoint({"model": "openai/a"}), _endpoint({"model": "openai/b"}), upstream_ext_proc=True
    )
    route = load_catalog(_config([_route("m", "mixed")], [cluster])).routes["m"]
    assert route.per_attempt and [e.model for e in route.endpoints] == ["openai/a", "openai/b"]


# --- mistakes in the configuration ----------------------------------------------


def test_route_to_a_missing_cluster_is_refused() -> None:
    config = _config([_route("m", "nowhere")], [_cluster("c", _endpoint({"model": "openai/m"}))])
    with pytest.raises(ConfigError, match="'nowhere'.*not defined"):
        load_catalog(config)


def test_header_match_must_equal_the_model_name() -> None:
    config = _config([_route("m", "c", header="other")], [_cluster("c", _endpoint({"model": "openai/m"}))])
    with pytest.raises(ConfigError, match="x-gateway-model.*'m'"):
        load_catalog(config)


def test_route_without_a_header_match_is_refused() -> None:
    route = _route("m", "c")
    route["match"] = {"prefix": "/"}
    with pytest.raises(ConfigError, match="x-gateway-model"):
        load_catalog(_config([route], [_cluster("c", _endpoint({"model": "openai/m"}))]))


def test_an_alias_used_by_two_models_is_refused() -> None:
    config = _config(
        [_route("a", "ca", aliases=["fast"]), _route("b", "cb", aliases=["fast"])],
        [_cluster("ca", _endpoint({"model": "openai/a"})), _cluster("cb", _endpoint({"model": "openai/b"}))],
    )
    with pytest.raises(ConfigError, match="'fast'.*'a'.*'b'"):
        load_catalog(config)


def test_an_alias_equal_to_another_model_name_is_refused() -> None:
    config = _config(
        [_route("a", "ca"), _route("b", "cb", aliases=["a"])],
        [_cluster("ca", _endpoint({"model": "openai/a"})), _cluster("cb", _endpoint({"model": "openai/b"}))],
    )
    with pytest.raises(ConfigError, match="'a'"):
        load_catalog(config)


def test_the_same_model_on_two_routes_is_refused() -> None:
    config = _config([_route("m", "c"), _route("m", "c")], [_cluster("c", _endpoint({"model": "openai/m"}))])
    with pytest.raises(ConfigError, match="'m' is defined by two routes"):
        load_catalog(config)


def test_aliases_must_be_a_list_of_strings() -> None:
    route = _route("m", "c")
    route["metadata"]["filter_metadata"]["llm_gateway"]["aliases"] = "fast"
    with pytest.raises(ConfigError, match="aliases"):
        load_catalog(_config([route], [_cluster("c", _endpoint({"model": "openai/m"}))]))


def test_endpoint_without_gateway_metadata_is_refused() -> None:
    config = _config([_route("m", "bare")], [_cluster("bare", _endpoint(None))])
    with pytest.raises(ConfigError, match="'bare'.*llm_gateway"):
        load_catalog(config)


def test_endpoint_without_a_model_string_is_refused() -> None:
    config = _config([_route("m", "c")], [_cluster("c", _endpoint({"api_key_env": "OPENAI_API_KEY"}))])
    with pytest.raises(ConfigError, match=r"cluster 'c' endpoint .*lacks model \(the LiteLLM model string"):
        load_catalog(config)


def test_a_cluster_without_upstream_ext_proc_cannot_mix_models() -> None:
    cluster = _cluster("mixed", _endpoint({"model": "openai/a"}), _endpoint({"model": "openai/b"}))
    with pytest.raises(ConfigError, match="'mixed' mixes endpoints of different models"):
        load_catalog(_config([_route("m", "mixed")], [cluster]))


def test_a_cluster_without_upstream_ext_proc_may_repeat_one_model() -> None:
    cluster = _cluster("twins", _endpoint({"model": "openai/a"}), _endpoint({"model": "openai/a"}, port=9001))
    route = load_catalog(_config([_route("m", "twins")], [cluster])).routes["m"]
    assert not route.per_attempt and len(route.endpoints) == 2


def test_the_shipped_config_has_no_fail_open_lane(shipped: Catalog) -> None:
    """Every path of the shipped config needs the service (which authenticates): no lane ships."""
    assert shipped.lanes == ()


@pytest.fixture(scope="module")
def with_lane(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    users = tmp_path_factory.mktemp("lane") / "lane.htpasswd"
    users.write_text(htpasswd_line("ops", "secret"))
    return with_example_lane(yaml.safe_load(SHIPPED.read_text()), users)


def test_the_documented_lane_serves_the_local_vllm_only(with_lane: dict[str, Any]) -> None:
    catalog = load_catalog(with_lane)
    lane = catalog.lane_for("/local/v1/chat/completions")
    assert lane is not None and lane.prefix == "/local" and lane.cluster == "local_vllm"
    assert catalog.lane_models(lane) == ["llama-3.1-8b"]
    assert catalog.lane_for("/v1/chat/completions") is None and catalog.lane_for("/localx/v1/models") is None


def test_envoy_validates_the_documented_lane(with_lane: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(with_lane, sort_keys=False))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "critical"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr or result.stdout


def _lane_route(with_lane: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in iter_routes(with_lane) if r["match"].get("prefix") == "/local/v1/")


def test_a_lane_that_envoy_does_not_authenticate_is_refused(with_lane: dict[str, Any]) -> None:
    config = copy.deepcopy(with_lane)
    del _lane_route(config)["typed_per_filter_config"]["envoy.filters.http.basic_auth"]
    with pytest.raises(ConfigError, match="fails open without authentication"):
        load_catalog(config)


def test_a_lane_whose_auth_filter_is_not_in_the_chain_is_refused(with_lane: dict[str, Any]) -> None:
    config = copy.deepcopy(with_lane)
    hcm = next(iter_connection_managers(config))
    hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != "envoy.filters.http.basic_auth"]
    with pytest.raises(ConfigError, match="fails open without authentication"):
        load_catalog(config)


def test_a_lane_injecting_another_providers_key_is_refused(with_lane: dict[str, Any]) -> None:
    """The lane that shipped before: Envoy injected FAKE_PROVIDER_API_KEY, which the paid-provider
    stand-ins use too."""
    config = copy.deepcopy(with_lane)
    _lane_route(config)["request_headers_to_add"][0]["header"]["value"] = "Bearer %ENVIRONMENT(FAKE_PROVIDER_API_KEY)%"
    with pytest.raises(ConfigError, match="FAKE_PROVIDER_API_KEY, the API key of another cluster's provider"):
        load_catalog(config)


@pytest.mark.parametrize(
    ("prefix", "upstream_filter", "message"),
    [("/local/", False, "prefix like"), ("/a/b/v1/", False, "prefix like"), ("/local/v1/", True, "fail closed")],
)
def test_a_lane_that_cannot_fail_open_is_refused(prefix: str, upstream_filter: bool, message: str) -> None:
    lane = {"match": {"prefix": prefix}, "route": {"cluster": "c"}, "metadata": {"filter_metadata": {"llm_gateway": {"lane": True}}}}
    config = _config([_route("m", "c"), lane], [_cluster("c", _endpoint({"model": "openai/m"}), upstream_ext_proc=upstream_filter)])
    with pytest.raises(ConfigError, match=message):
        load_catalog(config)
