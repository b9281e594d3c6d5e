"""`llm-gateway render` and the preflight checks behind `serve --preflight` and `healthcheck`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.ops.cli import main
from extproc.ops.envoy_config import EXTPROC_CLUSTER
from extproc.ops.launcher import free_port
from extproc.ops.preflight import problems, service_problems, without_password
from extproc.ops.render import Deployment, HostPort, RenderError, deployable

SHIPPED = Path(__file__).resolve().parents[3] / "envoy" / "envoy.yaml"
COMPOSE = Deployment(
    listen=HostPort("0.0.0.0", 8080),
    admin=HostPort("127.0.0.1", 9901),
    extproc=(HostPort("extproc", 9002),),
    fake_provider=HostPort("fake-provider", 9000),
    store="redis",
    cache_mode="semantic",
    semantic_store="pgvector",
)


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


def _clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def _endpoints(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [lb for locality in cluster["load_assignment"]["endpoints"] for lb in locality["lb_endpoints"]]


def _gateway_meta(config: dict[str, Any]) -> dict[str, Any]:
    vhost = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]
    return vhost["metadata"]["filter_metadata"]["llm_gateway"]


def test_the_service_is_reached_by_name_and_every_replica_behind_it(config: dict[str, Any]) -> None:
    out = deployable(config, COMPOSE)
    cluster = _clusters(out)[EXTPROC_CLUSTER]
    assert cluster["type"] == "STRICT_DNS"
    assert [lb["endpoint"]["address"]["socket_address"] for lb in _endpoints(cluster)] == [{"address": "extproc", "port_value": 9002}]
    assert cluster["health_checks"] == _clusters(config)[EXTPROC_CLUSTER]["health_checks"]


def test_the_fake_providers_endpoints_move_with_their_api_base(config: dict[str, Any]) -> None:
    out = deployable(config, COMPOSE)
    for name in ("fake_openai_gpt_4o_mini", "fake_anthropic_claude_haiku", "reliable_chain"):
        cluster = _clusters(out)[name]
        assert cluster["type"] == "STRICT_DNS"
        for lb in _endpoints(cluster):
            assert lb["endpoint"]["address"]["socket_address"] == {"address": "fake-provider", "port_value": 9000}
            assert lb["metadata"]["filter_metadata"]["llm_gateway"]["api_base"].startswith("http://fake-provider:9000")
    gemini = _endpoints(_clusters(out)["fake_gemini_flash"])[0]["metadata"]["filter_metadata"]["llm_gateway"]
    assert gemini["api_base"] == "http://fake-provider:9000/v1beta"


def test_listener_admin_stores_and_caches_are_set_and_nothing_else_moves(config: dict[str, Any]) -> None:
    out = deployable(config, COMPOSE)
    listener = out["static_resources"]["listeners"][0]
    assert listener["address"] == {"socket_address": {"address": "0.0.0.0", "port_value": 8080}}
    assert out["admin"]["address"] == {"socket_address": {"address": "127.0.0.1", "port_value": 9901}}
    meta = _gateway_meta(out)
    assert meta["store"]["kind"] == "redis" and meta["cache"]["mode"] == "semantic" and meta["cache"]["semantic_store"] == "pgvector"
    assert listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"] == (
        config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    )
    assert config == yaml.safe_load(SHIPPED.read_text()), "the source must not change"


def test_tracing_goes_to_the_named_collector(config: dict[str, Any]) -> None:
    out = deployable(config, Deployment(otlp_endpoint="otel-collector:4317"))
    collector = _clusters(out)["opentelemetry_collector"]
    assert collector["type"] == "STRICT_DNS"
    assert _endpoints(collector)[0]["endpoint"]["address"]["socket_address"]["address"] == "otel-collector"


@pytest.mark.parametrize("text", ["extproc", "extproc:", ":9002", "extproc:port", "extproc:70000"])
def test_an_address_without_a_port_is_refused(text: str) -> None:
    with pytest.raises(RenderError, match="HOST:PORT"):
        HostPort.parse(text)


def test_switching_stores_needs_the_gateway_metadata(config: dict[str, Any]) -> None:
    bare = copy.deepcopy(config)
    bare["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0].pop("metadata")
    with pytest.raises(RenderError, match="no virtual host"):
        deployable(bare, Deployment(store="redis"))
    with pytest.raises(RenderError, match="store must be one of"):
        deployable(config, Deployment(store="etcd"))


def test_the_command_names_what_is_wrong_with_a_broken_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "envoy.yaml"
    source.write_text("static_resources: [\n")
    assert main(["render", "--config", str(source), "--listen", "0.0.0.0:8080", "-o", str(tmp_path / "out.yaml")]) == 1
    assert "is not valid YAML" in capsys.readouterr().err
    assert not (tmp_path / "out.yaml").exists()


def test_the_output_says_how_to_make_it_again(tmp_path: Path) -> None:
    out = tmp_path / "out.yaml"
    assert main(["render", "--config", str(SHIPPED), "--extproc", "extproc:9002", "--store", "redis", "-o", str(out)]) == 0
    first = out.read_text().splitlines()[0]
    assert "llm-gateway render" in first and "--extproc extproc:9002" in first and "--store redis" in first
    assert _clusters(yaml.safe_load(out.read_text()))[EXTPROC_CLUSTER]["type"] == "STRICT_DNS"


def test_passwords_never_reach_a_message() -> None:
    assert without_password("redis://:s3cret@redis:6379/0") == "redis://redis:6379/0"
    assert without_password("postgresql://gw:s3cret@db:5432/gw") == "postgresql://gw@db:5432/gw"
    assert without_password("redis://redis:6379/0") == "redis://redis:6379/0"


def test_a_missing_provider_key_is_named_not_shown(config: dict[str, Any]) -> None:
    found = problems(config, environ={})
    assert found == [
        "Provider key missing: environment variable FAKE_PROVIDER_API_KEY is not set (needed by model 'gpt-4o-mini', "
        "cluster fake_openai_gpt_4o_mini); its calls fail with 503 until it is."
    ]
    assert problems(config, environ={"FAKE_PROVIDER_API_KEY": "k"}) == []


def test_unreachable_stores_are_named_without_their_passwords(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    closed = free_port()
    monkeypatch.setenv("LLM_GATEWAY_REDIS_URL", f"redis://:s3cret@127.0.0.1:{closed}/0")
    monkeypatch.setenv("LLM_GATEWAY_POSTGRES_URL", f"postgresql://gw:s3cret@127.0.0.1:{closed}/gw")
    out = deployable(config, Deployment(store="redis", cache_mode="semantic", semantic_store="pgvector"))
    found = problems(out, environ={"FAKE_PROVIDER_API_KEY": "k"})
    assert len(found) == 2
    assert found[0].startswith(f"Redis at redis://127.0.0.1:{closed}/0 cannot be reached: ")
    assert found[1].startswith(f"PostgreSQL at postgresql://gw@127.0.0.1:{closed}/gw cannot be reached: ")
    assert not any("s3cret" in problem for problem in found)


def test_a_service_that_does_not_answer_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    closed = free_port()
    assert service_problems(f"127.0.0.1:{closed}", timeout=1.0) == [
        f"The ext_proc service at 127.0.0.1:{closed} does not answer its health check (UNAVAILABLE)."
    ]
    assert main(["healthcheck", "--port", str(closed), "--config", str(SHIPPED)]) == 1
    assert "unhealthy: The ext_proc service" in capsys.readouterr().out


async def test_the_health_probe_neither_passes_a_draining_service_nor_counts_toward_its_drain() -> None:
    import asyncio

    import grpc
    from grpc_health.v1 import health_pb2_grpc

    from extproc.ext_proc.health import DrainingHealthServicer

    server = grpc.aio.server()
    servicer = DrainingHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        from grpc_health.v1 import health_pb2

        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await asyncio.to_thread(service_problems, f"127.0.0.1:{port}") == []
        drained = asyncio.create_task(servicer.drain(checks=1, timeout=5.0))
        await asyncio.sleep(0.1)
        found = await asyncio.to_thread(service_problems, f"127.0.0.1:{port}")
        assert found == [f"The ext_proc service at 127.0.0.1:{port} reports NOT_SERVING."]
        await asyncio.sleep(0.2)
        assert not drained.done(), "the probe counted as one of the checks Envoy must see"
        servicer.cut_short()
        await drained
    finally:
        await server.stop(None)
