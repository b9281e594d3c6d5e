"""The compose stack's files, checked without a container engine: compose.yaml settles in order
and reads only variables .env.example lists, the dashboard charts series the gateway exports,
Prometheus scrapes the port the image serves metrics on."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "compose"


def _exported_series() -> set[str]:
    """Every series name the gateway's /metrics can carry."""
    from prometheus_client import CollectorRegistry

    from extproc.telemetry.metric_definitions import Metrics

    registry = CollectorRegistry()
    Metrics(registry)
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    return {family.name + suffix for family in registry.collect() for suffix in suffixes[family.type]}


def test_every_variable_compose_reads_is_listed_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (COMPOSE / "compose.yaml").read_text()))
    listed = set(re.findall(r"^#? ?([A-Z_][A-Z0-9_]*)=", (COMPOSE / ".env.example").read_text(), re.M))
    assert used - listed == set()


def test_the_dashboard_charts_the_gateways_own_series() -> None:
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "llm-gateway.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    charted = {name for expr in expressions for name in re.findall(r"\b((?:llm_gateway|gen_ai)_[a-z_]+)(?=[\[{])", expr)}
    assert charted - _exported_series() == set(), "the dashboard queries series the gateway does not export"
    for wanted in ("llm_gateway_requests_total", "llm_gateway_tokens_total", "llm_gateway_cost_usd_total",
                   "gen_ai_server_time_to_first_token_seconds_bucket", "llm_gateway_cache_requests_total",
                   "llm_gateway_cache_saved_usd_total", "llm_gateway_fallbacks_total", "llm_gateway_redactions_total"):  # fmt: skip
        assert wanted in charted, wanted
    datasource = yaml.safe_load((COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {datasource["datasources"][0]["uid"]}


def test_prometheus_scrapes_the_port_the_image_serves_metrics_on() -> None:
    scrape = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())["scrape_configs"][0]["dns_sd_configs"][0]
    command = re.search(r'^CMD \[(.*)\]$', (REPO / "Dockerfile").read_text(), re.M)
    assert command is not None
    args = json.loads(f"[{command[1]}]")
    assert scrape["names"] == ["extproc"] and scrape["port"] == int(args[args.index("--metrics-port") + 1])
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian's prometheus package); the file was checked as YAML only")
    result = subprocess.run([promtool, "check", "config", str(COMPOSE / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_settles_in_order_with_every_long_running_service_health_checked() -> None:
    if shutil.which("docker") is None or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode:
        pytest.skip("the docker CLI with its compose v2 plugin is not installed (scripts/install.sh test installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    result = subprocess.run(
        ["docker", "compose", "--env-file", ".env.example", "--profile", "fake-provider", "--profile", "observability",
         "config", "--format", "json"],
        cwd=COMPOSE, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"config", "extproc", "envoy", "fake-provider", "redis", "postgres", "otel-collector", "prometheus", "grafana"} <= set(services)
    conditions = {name: {dep: spec["condition"] for dep, spec in s.get("depends_on", {}).items()} for name, s in services.items()}
    assert conditions["extproc"] == {"config": "service_completed_successfully", "redis": "service_healthy", "postgres": "service_healthy"}
    assert conditions["envoy"] == {"extproc": "service_healthy", "fake-provider": "service_healthy"}
    assert services["extproc"]["deploy"]["replicas"] == 2
    for name in ("envoy", "fake-provider", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    # The ext_proc service's health check is the image's own.
    assert "healthcheck" not in services["extproc"] and "HEALTHCHECK" in (REPO / "Dockerfile").read_text()
