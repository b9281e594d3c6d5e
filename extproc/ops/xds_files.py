"""Envoy's clusters, routes and listeners served from files, so that a changed envoy.yaml applies without a restart.

`llm-gateway up` runs Envoy on a bootstrap whose `dynamic_resources` read the
clusters (CDS) and listeners (LDS) from files, and each HTTP connection
manager's routes (RDS) from a file of its own; each file sits in a directory
Envoy watches (`watched_directory`). A new version is written beside the
directory and renamed into it: a rename is atomic, so Envoy never reads half a
file, and the move is what tells Envoy to read it again.

Clusters go first, then routes, then listeners, each once Envoy has taken the
one before. Routes are their own resource because a new route table applies
to the next request on every connection, while a changed listener applies to
new connections only (the old ones drain, finishing what they carry). Either
way a request in flight finishes on the configuration it started with.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from extproc.config.envoy_yaml import HCM_NAME

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTES_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
# How long Envoy may take to take up (or refuse) a file.
ACK_TIMEOUT_S = 20.0


class XdsRejected(RuntimeError):
    """Envoy refused a new file (the previous ones are back in force)."""


@dataclass(frozen=True, slots=True)
class ResourceFile:
    """One watched file: what it holds, and Envoy's counters (`<stat>.update_success|rejected`) for it."""

    name: str  # its directory under xds/, and what messages call it
    stat: str
    discovery: dict[str, Any]

    def path(self, xds_dir: Path) -> Path:
        """Where Envoy reads it."""
        return xds_dir / self.name / f"{self.name}.yaml"


def split(rendered: dict[str, Any], xds_dir: Path) -> tuple[dict[str, Any], list[ResourceFile]]:
    """`rendered` (a whole envoy.yaml) as a bootstrap reading its clusters, routes and listeners from
    files in `xds_dir`, and those files in the order Envoy must take them."""
    static = rendered.get("static_resources") or {}
    listeners = copy.deepcopy(static.get("listeners") or [])
    route_files = []
    for index, hcm in enumerate(_connection_managers(listeners)):
        routes = hcm.pop("route_config", None)
        if routes is None:
            continue
        name = str(routes.setdefault("name", f"routes_{index}"))
        route_file = _file(f"rds_{index}", f"http.{hcm.get('stat_prefix', '')}.rds.{name}", ROUTES_TYPE, [routes])
        hcm["rds"] = {"route_config_name": name, "config_source": _source(route_file.path(xds_dir))}
        route_files.append(route_file)
    files = [
        _file("cds", "cluster_manager.cds", CLUSTER_TYPE, copy.deepcopy(static.get("clusters") or [])),
        *route_files,
        _file("lds", "listener_manager.lds", LISTENER_TYPE, listeners),
    ]
    bootstrap = {key: copy.deepcopy(value) for key, value in rendered.items() if key != "static_resources"}
    others = {k: v for k, v in static.items() if k not in ("listeners", "clusters")}
    if others:
        bootstrap["static_resources"] = copy.deepcopy(others)
    bootstrap.setdefault("node", {"id": "llm-gateway", "cluster": "llm-gateway"})
    bootstrap["dynamic_resources"] = {
        "cds_config": _source(files[0].path(xds_dir)),
        "lds_config": _source(files[-1].path(xds_dir)),
    }
    return bootstrap, files


def write_initial(files: list[ResourceFile], xds_dir: Path) -> None:
    """The first files, before Envoy starts."""
    for resource_file in files:
        resource_file.path(xds_dir).parent.mkdir(parents=True, exist_ok=True)
        _replace(xds_dir, resource_file.name, yaml.safe_dump(resource_file.discovery, sort_keys=False))


def update(files: list[ResourceFile], xds_dir: Path, admin_url: str) -> list[str]:
    """Give Envoy each file that changed, in order, each once Envoy has taken the one before.

    Returns the names of the files that changed; XdsRejected (with every old file back in
    place) when Envoy refuses one, or when the files do not match the running bootstrap.
    """
    missing = [f.name for f in files if not f.path(xds_dir).exists()]
    if missing:
        raise XdsRejected(f"the change adds or removes an HTTP connection manager ({', '.join(missing)}): restart to apply it")
    previous = {f.name: f.path(xds_dir).read_text(encoding="utf-8") for f in files}
    changed = []
    try:
        for resource_file in files:
            if resource_file.discovery["version_info"] == (yaml.safe_load(previous[resource_file.name]) or {}).get("version_info"):
                continue
            before = _counters(admin_url, resource_file.stat)
            _replace(xds_dir, resource_file.name, yaml.safe_dump(resource_file.discovery, sort_keys=False))
            changed.append(resource_file.name)
            _await_ack(admin_url, resource_file, before)
    except XdsRejected:
        for name in changed:
            _replace(xds_dir, name, previous[name])
        raise
    return changed


def _connection_managers(listeners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        network_filter.setdefault("typed_config", {})
        for listener in listeners
        for chain in listener.get("filter_chains", []) or []
        for network_filter in chain.get("filters", []) or []
        if network_filter.get("name") == HCM_NAME
    ]


def _file(name: str, stat: str, resource_type: str, resources: list[dict[str, Any]]) -> ResourceFile:
    typed = [{"@type": resource_type, **item} for item in resources]
    version = hashlib.sha256(json.dumps(typed, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return ResourceFile(name, stat, {"version_info": version, "resources": typed})


def _source(path: Path) -> dict[str, Any]:
    return {"path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}}, "resource_api_version": "V3"}


def _replace(xds_dir: Path, name: str, text: str) -> None:
    """Write beside the watched directory, then rename into it: atomic, and the move is Envoy's cue."""
    staging = xds_dir / f".{name}.yaml.next"
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, xds_dir / name / f"{name}.yaml")


def _counters(admin_url: str, stat: str) -> tuple[int, int]:
    """Envoy's (update_success, update_rejected) for one file."""
    escaped = stat.replace(".", "\\.")
    with urllib.request.urlopen(f"{admin_url}/stats?filter=^{escaped}\\.update_(success|rejected)$", timeout=5) as response:
        values = dict(line.split(": ", 1) for line in response.read().decode().splitlines() if ": " in line)
    return int(values.get(f"{stat}.update_success", 0)), int(values.get(f"{stat}.update_rejected", 0))


def _await_ack(admin_url: str, resource_file: ResourceFile, before: tuple[int, int]) -> None:
    deadline = time.monotonic() + ACK_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            success, rejected = _counters(admin_url, resource_file.stat)
        except (urllib.error.URLError, OSError):
            success, rejected = before
        if rejected > before[1]:
            raise XdsRejected(f"Envoy refused the new {resource_file.name} file (its log says why)")
        if success > before[0]:
            return
        time.sleep(0.05)
    raise XdsRejected(f"Envoy did not take up the new {resource_file.name} file within {ACK_TIMEOUT_S:.0f} s")
