"""A small envoy.yaml for unit tests: the models a test names, on the fake provider, and nothing else.

Unit tests build their gateway from this, not from the shipped demo `envoy/envoy.yaml`, so that
editing the demo (its tenants, limits, privacy or cache defaults) cannot change what they test.
The models are the demo's, with the same names, aliases, clusters and endpoint metadata, so a test
reads the same; the gateway section defaults to no keys and in-process stores.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

FAKE_PROVIDER = "http://127.0.0.1:9000"
EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
# No keys, buckets and spend in each process: nothing written to disk, nothing shared.
GATEWAY_SECTION: dict[str, Any] = {"auth": {"mode": "none"}, "store": {"kind": "memory"}}
# What the router pays a local model (vLLM has no price in LiteLLM's map).
LOCAL_PRICE = {"input_cost_per_token": 0.0000001, "output_cost_per_token": 0.0000001}


def _endpoint(model: str, api_base: str, **extra: Any) -> dict[str, Any]:
    meta = {"model": model, "api_base": api_base, "api_key_env": "FAKE_PROVIDER_API_KEY", "forward_headers": ["x-fake-*"]}
    return {
        "endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9000}}},
        "metadata": {"filter_metadata": {"llm_gateway": {**meta, **extra}}},
    }


# name -> (route metadata, cluster name, endpoints by priority, whether the cluster runs the upstream filter)
MODELS: dict[str, tuple[dict[str, Any], str, list[dict[str, Any]], bool]] = {
    "gpt-4o-mini": (
        {"aliases": ["fast", "default"], "description": "Small, cheap model for most requests."},
        "fake_openai_gpt_4o_mini", [_endpoint("openai/gpt-4o-mini", f"{FAKE_PROVIDER}/v1")], False,
    ),
    "gpt-4o": (
        {"aliases": ["smart"], "description": "Large model for hard requests.",
         "limits": {"requests_per_minute": 1000, "tokens_per_minute": 800000}},
        "fake_openai_gpt_4o", [_endpoint("openai/gpt-4o", f"{FAKE_PROVIDER}/v1")], True,
    ),
    "claude-haiku-4-5": (
        {"aliases": ["claude"], "description": "Anthropic's small model, through translation."},
        "fake_anthropic_claude_haiku", [_endpoint("anthropic/claude-haiku-4-5", FAKE_PROVIDER)], True,
    ),
    "gemini-2.5-flash": (
        {"aliases": ["gemini"], "description": "Google's Gemini (AI Studio), through translation."},
        "fake_gemini_flash", [_endpoint("gemini/gemini-2.5-flash", f"{FAKE_PROVIDER}/v1beta")], True,
    ),
    "reliable": (
        {"description": "Local Llama, falling back to Claude, then GPT-4o.", "fallback_max_cost_usd": 0.50},
        "reliable_chain",
        [
            _endpoint("hosted_vllm/llama-3.1-8b", f"{FAKE_PROVIDER}/v1", **LOCAL_PRICE),
            _endpoint("anthropic/claude-haiku-4-5", FAKE_PROVIDER),
            _endpoint("openai/gpt-4o", f"{FAKE_PROVIDER}/v1"),
        ],
        True,
    ),
    "text-embedding-3-small": (
        {"kind": "embeddings", "aliases": ["embed"], "description": "OpenAI's small embeddings model."},
        "fake_openai_embeddings", [_endpoint("openai/text-embedding-3-small", f"{FAKE_PROVIDER}/v1")], False,
    ),
    "llama-3.1-8b": (
        {"aliases": ["local"], "description": "Llama 3.1 8B on the local vLLM server.",
         "privacy": {"request": {"mode": "off"}}},
        "local_vllm", [_endpoint("hosted_vllm/llama-3.1-8b", f"{FAKE_PROVIDER}/v1", **LOCAL_PRICE)], False,
    ),
    "qwen2.5-coder": (
        {"aliases": ["coder"], "description": "Qwen2.5 Coder 32B on the local vLLM server, for code.",
         "privacy": {"request": {"mode": "off"}}},
        "local_vllm_coder", [_endpoint("hosted_vllm/qwen2.5-coder-32b", f"{FAKE_PROVIDER}/v1", **LOCAL_PRICE)], False,
    ),
}  # fmt: skip
# A routing policy like the demo's `auto` (tests that route by policy add it with `with_virtual_model`).
AUTO_POLICY: dict[str, Any] = {
    "default": "gpt-4o",
    "rules": [
        {"name": "tools", "when": {"tools": True}, "model": "gpt-4o"},
        {"name": "images", "when": {"images": True}, "model": "gpt-4o"},
        {"name": "long-context", "when": {"prompt_tokens": {"min": 100000}}, "model": "gemini-2.5-flash"},
        {"name": "classifier", "classify": {"min_confidence": 0.8, "table": [
            {"task": "code", "model": "qwen2.5-coder"},
            {"complexity": "simple", "model": "gpt-4o-mini"},
            {"complexity": "complex", "model": "gpt-4o"},
        ]}},
    ],
    "conversation": {"header": "x-conversation-id", "ttl_seconds": 1800},
}  # fmt: skip
# Routes whose own settings go on the route rather than in its metadata.
ROUTE_BUFFER_LIMITS = {"text-embedding-3-small": 62914560}


def _ext_proc_filter(role: str) -> dict[str, Any]:
    return {
        "name": EXT_PROC_FILTER,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "grpc_service": {
                "envoy_grpc": {"cluster_name": "llm_gateway_extproc"},
                "initial_metadata": [{"key": "x-llm-gateway-filter", "value": role}],
            },
        },
    }


def _cluster(name: str, endpoints: list[dict[str, Any]], per_attempt: bool) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"priority": i, "lb_endpoints": [copy.deepcopy(e)]} for i, e in enumerate(endpoints)],
        },
    }
    if per_attempt:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {}},
                "http_filters": [
                    _ext_proc_filter("upstream"),
                    {"name": "envoy.filters.http.upstream_codec"},
                ],
            }
        }
    return cluster


def _route(name: str, meta: dict[str, Any], cluster: str) -> dict[str, Any]:
    route: dict[str, Any] = {
        "match": {"prefix": "/", "headers": [{"name": "x-gateway-model", "string_match": {"exact": name}}]},
        "route": {"cluster": cluster, "timeout": "600s"},
        "metadata": {"filter_metadata": {"llm_gateway": {"model": name, **copy.deepcopy(meta)}}},
    }
    if name in ROUTE_BUFFER_LIMITS:
        route["request_body_buffer_limit"] = ROUTE_BUFFER_LIMITS[name]
    return route


def gateway_config(*models: str, gateway: dict[str, Any] | None = None) -> dict[str, Any]:
    """An envoy.yaml (as a dict) that serves `models` (every known model when none is named)
    with `gateway` as the virtual host's `llm_gateway` section (no keys, memory stores by default)."""
    names = models or tuple(MODELS)
    unknown = set(names) - set(MODELS)
    if unknown:
        raise KeyError(f"no such test model: {sorted(unknown)}; known: {sorted(MODELS)}")
    routes = [_route(name, MODELS[name][0], MODELS[name][1]) for name in names]
    catch_all = {"match": {"prefix": "/"}, "direct_response": {"status": 404}}
    clusters = [_cluster(MODELS[name][1], MODELS[name][2], MODELS[name][3]) for name in names]
    hcm = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "llm_gateway",
            "route_config": {
                "name": "llm_routes",
                "virtual_hosts": [{
                    "name": "llm",
                    "domains": ["*"],
                    "metadata": {"filter_metadata": {"llm_gateway": copy.deepcopy(gateway or GATEWAY_SECTION)}},
                    "routes": [*routes, catch_all],
                }],
            },
            "http_filters": [_ext_proc_filter("router"), {"name": "envoy.filters.http.router"}],
        },
    }  # fmt: skip
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9901}}},
        "static_resources": {
            "listeners": [{"name": "llm_gateway", "filter_chains": [{"filters": [hcm]}]}],
            "clusters": clusters,
        },
    }


def with_virtual_model(
    config: dict[str, Any], name: str = "auto", routing: dict[str, Any] | None = None, aliases: tuple[str, ...] = ("router",)
) -> dict[str, Any]:
    """`config` with a virtual model: a route whose `routing` policy (AUTO_POLICY by default) picks the model."""
    out = copy.deepcopy(config)
    meta = {"model": name, "aliases": list(aliases), "routing": copy.deepcopy(routing or AUTO_POLICY)}
    route = {
        "match": {"prefix": "/", "headers": [{"name": "x-gateway-model", "string_match": {"exact": name}}]},
        "direct_response": {"status": 500},
        "metadata": {"filter_metadata": {"llm_gateway": meta}},
    }
    host = out["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
    routes = host["virtual_hosts"][0]["routes"]
    routes.insert(len(routes) - 1, route)
    return out


def write_gateway_config(path: Path, *models: str, gateway: dict[str, Any] | None = None) -> Path:
    """`gateway_config(...)` written to `path` (an envoy.yaml the service and the CLI can read)."""
    path.write_text(yaml.safe_dump(gateway_config(*models, gateway=gateway), sort_keys=False))
    return path
