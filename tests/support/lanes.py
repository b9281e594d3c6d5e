"""The documented fail-open lane (examples/fail-open-lane.yaml), applied to an envoy.yaml for tests."""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

from extproc.config.envoy_yaml import iter_connection_managers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fail-open-lane.yaml"
LANE_KEY_ENV = "LOCAL_VLLM_API_KEY"
LANE_CREDENTIAL_HEADER = "llm-gateway-lane-authorization"


def htpasswd_line(user: str, password: str) -> str:
    """One users-file line in the only format Envoy's basic_auth reads: `user:{SHA}base64(sha1)`."""
    return f"{user}:{{SHA}}{base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()}\n"


def basic(user: str, password: str) -> str:
    """The lane credential header's value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def with_example_lane(config: dict[str, Any], users_file: Path) -> dict[str, Any]:
    """`config` with the example's filter and lane route, its users file, and local_vllm keyed by
    LANE_KEY_ENV (the steps the example's comments list)."""
    example = yaml.safe_load(EXAMPLE.read_text())
    out = copy.deepcopy(config)
    http_filter = copy.deepcopy(example["http_filter"])
    http_filter["typed_config"]["users"] = {"filename": str(users_file)}
    hcm = next(iter_connection_managers(out))
    filters = hcm["http_filters"]
    at = next(i for i, f in enumerate(filters) if f["name"] == "envoy.filters.http.ext_proc")
    filters.insert(at, http_filter)
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    routes.insert(len(routes) - 1, copy.deepcopy(example["route"]))
    for cluster in out["static_resources"]["clusters"]:
        if cluster["name"] == "local_vllm":
            for locality in cluster["load_assignment"]["endpoints"]:
                for lb_endpoint in locality["lb_endpoints"]:
                    lb_endpoint["metadata"]["filter_metadata"]["llm_gateway"]["api_key_env"] = LANE_KEY_ENV
    return out
