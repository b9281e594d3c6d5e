"""Rewriting envoy.yaml for one run: ports, ext_proc service endpoints, the fake provider."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.config.catalog import load_catalog
from extproc.config.fallback_list import is_fallback_route
from extproc.ops.envoy_config import ServiceAddress, render, uses_fake_provider

SHIPPED = Path(__file__).resolve().parents[3] / "envoy" / "envoy.yaml"


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


def _cluster(config: dict[str, Any], name: str) -> dict[str, Any]:
    [cluster] = [c for c in config["static_resources"]["clusters"] if c["name"] == name]
    return cluster


def _addresses(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        lb["endpoint"]["address"]
        for locality in cluster["load_assignment"]["endpoints"]
        for lb in locality["lb_endpoints"]
    ]


def test_render_without_options_only_adds_the_fallback_list_resources(config: dict[str, Any]) -> None:
    out = render(config)
    assert out is not config
    static = out["static_resources"]
    static["clusters"] = [c for c in static["clusters"] if not c["name"].startswith("llm_gateway_fallback_")]
    host = static["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]
    host["routes"] = [r for r in host["routes"] if not is_fallback_route(r)]
    assert out == config


def test_listener_and_admin_ports_change(config: dict[str, Any]) -> None:
    out = render(config, listener_port=18080, admin_port=19901)
    assert out["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] == 18080
    assert out["admin"]["address"] == {"socket_address": {"address": "127.0.0.1", "port_value": 19901}}


def test_admin_is_added_when_the_config_has_none(config: dict[str, Any]) -> None:
    del config["admin"]
    assert render(config, admin_port=0)["admin"]["address"]["socket_address"]["port_value"] == 0


def test_service_endpoints_over_tcp_replace_the_default(config: dict[str, Any]) -> None:
    out = render(config, services=[ServiceAddress(port=7001), ServiceAddress(port=7002)])
    assert _addresses(_cluster(out, "llm_gateway_extproc")) == [
        {"socket_address": {"address": "127.0.0.1", "port_value": 7001}},
        {"socket_address": {"address": "127.0.0.1", "port_value": 7002}},
    ]


def test_service_endpoints_over_unix_sockets(config: dict[str, Any]) -> None:
    out = render(config, services=[ServiceAddress(uds="/tmp/a.sock"), ServiceAddress(uds="/tmp/b.sock")])
    assert _addresses(_cluster(out, "llm_gateway_extproc")) == [
        {"pipe": {"path": "/tmp/a.sock"}},
        {"pipe": {"path": "/tmp/b.sock"}},
    ]


def test_fake_provider_endpoints_move_with_their_api_base(config: dict[str, Any]) -> None:
    out = render(config, fake_provider_port=19000)
    for name in ("fake_openai_gpt_4o", "fake_openai_gpt_4o_mini"):
        cluster = _cluster(out, name)
        assert _addresses(cluster) == [{"socket_address": {"address": "127.0.0.1", "port_value": 19000}}]
        [locality] = cluster["load_assignment"]["endpoints"]
        meta = locality["lb_endpoints"][0]["metadata"]["filter_metadata"]["llm_gateway"]
        assert meta["api_base"] == "http://127.0.0.1:19000/v1"
    # The catalog the service builds agrees with what Envoy will run.
    bases = {e.api_base for r in load_catalog(out).routes.values() for e in r.endpoints}
    assert bases == {"http://127.0.0.1:19000/v1", "http://127.0.0.1:19000", "http://127.0.0.1:19000/v1beta"}


def test_fake_provider_port_leaves_other_endpoints_alone(config: dict[str, Any]) -> None:
    out = render(config, fake_provider_port=19000)
    assert _cluster(out, "llm_gateway_extproc") == _cluster(config, "llm_gateway_extproc")


def test_real_provider_endpoints_are_not_moved(config: dict[str, Any]) -> None:
    lb = _cluster(config, "fake_openai_gpt_4o")["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    lb["metadata"]["filter_metadata"]["llm_gateway"]["api_key_env"] = "OPENAI_API_KEY"
    out = render(config, fake_provider_port=19000)
    assert _cluster(out, "fake_openai_gpt_4o") == _cluster(config, "fake_openai_gpt_4o")
    assert _addresses(_cluster(out, "fake_openai_gpt_4o_mini"))[0]["socket_address"]["port_value"] == 19000


def test_render_does_not_mutate_its_input(config: dict[str, Any]) -> None:
    before = copy.deepcopy(config)
    render(
        config,
        listener_port=1,
        admin_port=2,
        services=[ServiceAddress(port=3), ServiceAddress(uds="/tmp/s")],
        fake_provider_port=4,
    )
    assert config == before


def test_uses_fake_provider(config: dict[str, Any]) -> None:
    assert uses_fake_provider(config)
    for cluster in config["static_resources"]["clusters"]:
        for locality in cluster["load_assignment"]["endpoints"]:
            for lb in locality["lb_endpoints"]:
                meta = lb.get("metadata", {}).get("filter_metadata", {}).get("llm_gateway")
                if meta:
                    meta["api_key_env"] = "OPENAI_API_KEY"
    assert not uses_fake_provider(config)


def test_a_config_without_clusters_uses_no_fake_provider() -> None:
    assert not uses_fake_provider({})
    assert not uses_fake_provider({"static_resources": {"clusters": None}})
