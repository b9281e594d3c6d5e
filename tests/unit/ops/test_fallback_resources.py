"""The Envoy resources that walk a client's `models` list: one slot cluster per position, an aggregate over them, a route."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from extproc.config.catalog import is_ext_proc, load_catalog
from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_lb_endpoints, iter_routes
from extproc.config.fallback_list import (
    AGGREGATE_CLUSTER,
    FALLBACK_MODEL,
    SLOT_PREFIX,
    is_fallback_route,
    lb_criteria,
)
from extproc.ops.envoy_config import render
from extproc.ops.launcher import envoy_binary
from extproc.tenancy.settings import tenancy_metadata
from extproc.upstream.processor import endpoint_key, endpoints_by_cluster

SHIPPED = yaml.safe_load(DEFAULT_CONFIG.read_text())


def _clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def test_each_position_offers_every_chat_models_first_level() -> None:
    out = render(SHIPPED)
    clusters = _clusters(out)
    slots = sorted(n for n in clusters if n.startswith(SLOT_PREFIX))
    assert len(slots) == 5
    catalog = load_catalog(SHIPPED)
    chat = {r.name for r in catalog.routes.values() if r.kind == "chat"}
    for position, name in enumerate(slots):
        tagged = [lb["metadata"]["filter_metadata"] for _, lb in iter_lb_endpoints(clusters[name])]
        assert {meta["envoy.lb"][f"position_{position}"] for meta in tagged} == chat
        # The reliable chain offers its first level only (a list is the chain).
        reliable = [meta["llm_gateway"] for meta in tagged if meta["llm_gateway"]["fallback_model"] == "reliable"]
        assert [meta["model"] for meta in reliable] == ["hosted_vllm/llama-3.1-8b"]
    aggregate = clusters[AGGREGATE_CLUSTER]
    assert aggregate["cluster_type"]["typed_config"]["clusters"] == slots
    # The aggregate's upstream filters are the ones Envoy runs: the ext_proc that prepares each attempt.
    filters = aggregate["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"]
    assert is_ext_proc(filters[0])
    [route] = [r for r in iter_routes(out) if is_fallback_route(r)]
    assert route["match"]["headers"][0]["string_match"]["exact"] == FALLBACK_MODEL
    assert route["route"]["retry_policy"]["num_retries"] == 4
    assert route["route"]["retry_policy"]["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"


def test_the_catalog_and_the_upstream_filter_know_each_position_copy() -> None:
    catalog = load_catalog(render(SHIPPED))
    assert catalog.fallback_list is not None and catalog.fallback_list.slots == 5
    # llama-3.1-8b and the reliable chain's first level serve one LiteLLM model: told apart by route.
    endpoints = endpoints_by_cluster(catalog)
    for route in ("llama-3.1-8b", "reliable"):
        meta = {"model": "hosted_vllm/llama-3.1-8b", "fallback_model": route}
        assert endpoints[(AGGREGATE_CLUSTER, endpoint_key(meta))].route == route
    assert load_catalog(SHIPPED).fallback_list is None


def test_rendering_twice_adds_the_resources_once_and_follows_the_configured_length() -> None:
    config = copy.deepcopy(SHIPPED)
    tenancy_metadata(config)["routing"] = {"max_fallback_models": 3}
    once = render(config)
    assert render(once) == once
    assert sum(n.startswith(SLOT_PREFIX) for n in _clusters(once)) == 3
    assert lb_criteria(["a", "b"], 3) == {"position_0": "a", "position_1": "b", "position_2": "-"}


def test_tls_endpoints_keep_their_transport_socket(tmp_path: Path) -> None:
    config = copy.deepcopy(SHIPPED)
    gpt4o = _clusters(config)["fake_openai_gpt_4o"]
    gpt4o["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                         "sni": "api.openai.com"},
    }  # fmt: skip
    out = render(config)
    slot = _clusters(out)[f"{SLOT_PREFIX}0"]
    [match] = slot["transport_socket_matches"]
    assert match["match"] == {"llm_gateway_tls": "fake_openai_gpt_4o"} and match["transport_socket"]["typed_config"]["sni"] == "api.openai.com"
    tagged = [lb for _, lb in iter_lb_endpoints(slot) if lb["metadata"]["filter_metadata"]["llm_gateway"]["fallback_model"] == "gpt-4o"]
    assert tagged[0]["metadata"]["filter_metadata"]["envoy.transport_socket_match"] == {"llm_gateway_tls": "fake_openai_gpt_4o"}
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False))
    result = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "critical"],
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr or result.stdout


def test_a_lane_still_loads_beside_the_fallback_list(tmp_path: Path) -> None:
    # The slot clusters copy the lane's own endpoints (and its key variable): not another cluster's key.
    from tests.support.lanes import htpasswd_line, with_example_lane

    users = tmp_path / "lane.htpasswd"
    users.write_text(htpasswd_line("ops", "secret"))
    catalog = load_catalog(render(with_example_lane(SHIPPED, users)))
    assert [lane.prefix for lane in catalog.lanes] == ["/local"] and catalog.fallback_list is not None
