"""`llm-gateway import-litellm`: a LiteLLM proxy config's `model_list` as this gateway's envoy.yaml.

LiteLLM proxy users describe models as

    model_list:
    - model_name: gpt-4o                      # what clients ask for
      litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, rpm: 60}
    router_settings: {fallbacks: [{gpt-4o: [claude]}], num_retries: 2, timeout: 60}

Each `model_name` becomes a model route; its deployments become the
endpoints of its cluster (priority 0, load-balanced), and each fallback
model's deployments the next priority levels, so Envoy fails over as
LiteLLM's router would. A model's `rpm`/`tpm` become its route's limits and
`litellm_settings.cache` the gateway's cache policy. The rest of the shipped
envoy.yaml (listener, filters, error mappers, service cluster, tenancy) is
kept. Whatever is imported with another meaning, or not at all, is reported
in a note, never silently dropped. Secrets are not copied: a literal
`api_key` becomes an environment variable the operator must set.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from extproc.cache.policy import load_cache_policies
from extproc.config.catalog import MODEL_HEADER, PRICE_KEYS, has_upstream_ext_proc, provider_of
from extproc.config.envoy_yaml import METADATA_NAMESPACE, gateway_section, iter_routes
from extproc.config.validation import ConfigError
from extproc.ops.envoy_config import EXTPROC_CLUSTER, FAKE_PROVIDER_KEY_ENV
from extproc.tenancy.settings import SettingsError, mapping_of, tenancy_metadata

# LiteLLM's default base URL per provider, for deployments that set no api_base.
DEFAULT_API_BASES = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "mistral": "https://api.mistral.ai/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together_ai": "https://api.together.xyz/v1",
}
# Providers whose wire format is OpenAI's: a single-model cluster of these needs no upstream filter.
OPENAI_WIRE = ("openai", "hosted_vllm", "groq", "together_ai")
ENV_PREFIX = "os.environ/"


class LiteLLMImportError(ValueError):
    """The LiteLLM config cannot be imported; the message says what to fix."""


@dataclass
class Imported:
    """The generated envoy.yaml and what the operator should know about it."""

    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Deployment:
    model_name: str
    model: str
    api_base: str
    api_key_env: str | None
    prices: dict[str, float]
    kind: str
    # Endpoint metadata LiteLLM params map to one to one (Azure's api_version).
    options: dict[str, str] = field(default_factory=dict)
    # LiteLLM's per-deployment requests and tokens per minute.
    rpm: int | None = None
    tpm: int | None = None


def import_litellm(litellm_config: dict[str, Any], template: dict[str, Any]) -> Imported:
    """Turn a parsed LiteLLM proxy config into an envoy.yaml built on `template` (the shipped one)."""
    notes: list[str] = []
    deployments = _deployments(litellm_config, notes)
    groups: dict[str, list[_Deployment]] = {}
    for deployment in deployments:
        groups.setdefault(deployment.model_name, []).append(deployment)
    router = _section(litellm_config.get("router_settings"), "router_settings")
    settings = _section(litellm_config.get("litellm_settings"), "litellm_settings")
    fallbacks = _fallbacks(router.get("fallbacks") or settings.get("fallbacks") or [], groups)
    num_retries = int(router.get("num_retries", settings.get("num_retries", 2)) or 0)
    timeout = router.get("timeout", settings.get("request_timeout"))
    _note_unsupported(litellm_config, router, settings, notes)

    config = copy.deepcopy(template)
    static = config["static_resources"]
    retry_policy = _template_retry_policy(config)
    protocol_options = _template_protocol_options(static)
    static["clusters"] = [c for c in static["clusters"] if c.get("name") == EXTPROC_CLUSTER]
    aliases = _aliases(router.get("model_group_alias") or {}, groups)
    routes = []
    for name, group in groups.items():
        chain = [group] + [groups[f] for f in fallbacks.get(name, [])]
        cluster_name = _cluster_name(name)
        static["clusters"].append(_cluster(cluster_name, chain, protocol_options))
        route = _route(name, cluster_name, group[0].kind, chain, retry_policy, num_retries, timeout)
        meta = gateway_section(route)
        assert meta is not None, "_route writes it"
        if aliases.get(name):
            meta["aliases"] = aliases[name]
        limits = _limits(name, group, notes)
        if limits:
            meta["limits"] = limits
        routes.append(route)
    _replace_model_routes(config, routes)
    cache = _cache(settings, notes)
    if cache is not None:
        tenancy = tenancy_metadata(config)
        tenancy["cache"] = {**(tenancy.get("cache") or {}), **cache}  # the template's other knobs stay
        if "threshold" in cache:
            tenancy["cache"].pop("max_error_rate", None)  # LiteLLM's fixed threshold, not the learned bound
        try:
            load_cache_policies(config)  # the service's own check: a threshold out of range, say
        except ConfigError as exc:
            raise LiteLLMImportError(f"litellm_settings.cache_params cannot be imported: {exc}") from exc
    return Imported(config=config, notes=notes)


def _section(value: Any, where: str) -> dict[str, Any]:
    try:
        return mapping_of(value, where)
    except SettingsError as exc:
        raise LiteLLMImportError(str(exc)) from exc


def _limits(name: str, group: list[_Deployment], notes: list[str]) -> dict[str, int]:
    """A model's deployments' rpm/tpm, summed, as its route's limits (deployments without one: unlimited)."""
    limits: dict[str, int] = {}
    for field_name, key in (("rpm", "requests_per_minute"), ("tpm", "tokens_per_minute")):
        values = [getattr(d, field_name) for d in group]
        if all(v is not None for v in values):
            limits[key] = sum(v for v in values if v is not None)
        elif any(v is not None for v in values):
            notes.append(f"{name}: `{field_name}` is set on some of its deployments only; the model is left without that limit.")
    if limits:
        notes.append(
            f"{name}: rpm/tpm became its route's `limits` ({limits}). LiteLLM counts them per deployment for "
            "every caller; the gateway counts them per tenant on this model (the same with one tenant)."
        )
    return limits


# LiteLLM cache types and the gateway's mode for them.
_CACHE_MODES = {"local": "exact", "redis": "exact", "redis-semantic": "semantic", "qdrant-semantic": "semantic"}


def _cache(settings: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """`litellm_settings.cache` and `cache_params` as the gateway's cache policy (None: no cache section)."""
    if not settings.get("cache"):
        return None
    params = _section(settings.get("cache_params"), "litellm_settings.cache_params")
    kind = params.get("type") or "local"
    if kind not in _CACHE_MODES:
        notes.append(f"litellm_settings.cache type {kind!r} is not imported: the gateway caches in process, in Redis or in pgvector.")
        return None
    if params.get("mode") == "default_off":
        notes.append(
            "litellm_settings.cache_params.mode default_off is imported as `cache: {mode: off}`: the gateway has no "
            "per-request opt-in; turn the cache on per route instead."
        )
        return {"mode": "off"}
    cache: dict[str, Any] = {"mode": _CACHE_MODES[kind]}
    if isinstance(params.get("ttl"), (int, float)) and not isinstance(params["ttl"], bool) and params["ttl"] > 0:
        cache["ttl_seconds"] = int(params["ttl"])
    if cache["mode"] == "semantic":
        if isinstance(params.get("similarity_threshold"), (int, float)):
            cache["threshold"] = float(params["similarity_threshold"])
        notes.append(
            f"cache type {kind!r} became `mode: semantic`: the gateway embeds with its own offline model, behind "
            "its near-miss guards, and shares entries through PostgreSQL + pgvector (`semantic_store: pgvector`), "
            "not through LiteLLM's index."
        )
    if kind.startswith("redis"):
        notes.append(
            "LiteLLM's cache is in Redis: to share the gateway's between replicas, set the virtual host's "
            "`store: {kind: redis, redis_url: ...}` (keys and limits then live there too)."
        )
    return cache


def _deployments(litellm_config: dict[str, Any], notes: list[str]) -> list[_Deployment]:
    model_list = litellm_config.get("model_list")
    if not isinstance(model_list, list) or not model_list:
        raise LiteLLMImportError("the LiteLLM config has no `model_list`")
    out = []
    for index, entry in enumerate(model_list):
        if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
            raise LiteLLMImportError(f"model_list[{index}] has no `model_name`")
        params = _section(entry.get("litellm_params"), f"model_list[{index}].litellm_params")
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise LiteLLMImportError(f"model_list[{index}] ({entry['model_name']}) has no `litellm_params.model`")
        if "/" not in model:
            model = f"openai/{model}"  # LiteLLM's own default provider
        provider = provider_of(model)
        api_base = params.get("api_base") or DEFAULT_API_BASES.get(provider)
        if not api_base:
            raise LiteLLMImportError(f"model_list[{index}] ({entry['model_name']}): no `api_base` and no default for {provider!r}")
        info = _section(entry.get("model_info"), f"model_list[{index}].model_info")
        prices = {k: float(v) for k in PRICE_KEYS if isinstance(v := params.get(k, info.get(k)), (int, float))}
        out.append(
            _Deployment(
                model_name=entry["model_name"],
                model=model,
                api_base=str(api_base),
                api_key_env=_key_env(entry["model_name"], params.get("api_key"), provider, notes),
                prices=prices,
                kind="embeddings" if info.get("mode") == "embedding" else "chat",
                options={k: str(params[k]) for k in ("api_version",) if params.get(k)},
                rpm=_positive_int(params.get("rpm"), entry["model_name"], "rpm"),
                tpm=_positive_int(params.get("tpm"), entry["model_name"], "tpm"),
            )
        )
    return out


def _positive_int(value: Any, model_name: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise LiteLLMImportError(f"{model_name}: `{name}` must be a positive number, not {value!r}")
    return int(value)


def _key_env(model_name: str, api_key: Any, provider: str, notes: list[str]) -> str | None:
    """Where the key comes from: LiteLLM's `os.environ/NAME`, or a variable the operator must set."""
    if api_key is None:
        default = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY",
                   "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "together_ai": "TOGETHERAI_API_KEY"}  # fmt: skip
        return default.get(provider)
    if isinstance(api_key, str) and api_key.startswith(ENV_PREFIX):
        return api_key[len(ENV_PREFIX):]
    variable = re.sub(r"[^A-Z0-9]+", "_", f"{model_name}_API_KEY".upper())
    notes.append(f"{model_name}: its api_key was written in the config; it is not copied. Set {variable} instead.")
    return variable


def _fallbacks(entries: Any, groups: dict[str, list[_Deployment]]) -> dict[str, list[str]]:
    """LiteLLM's `[{model: [fallback, ...]}, ...]` as model -> ordered fallbacks."""
    out: dict[str, list[str]] = {}
    for entry in entries if isinstance(entries, list) else []:
        for model, chain in (entry or {}).items():
            chain = chain if isinstance(chain, list) else [chain]
            for name in [model, *chain]:
                if name not in groups:
                    raise LiteLLMImportError(f"fallbacks name {name!r}, which is not a model_name of model_list")
            out[model] = [c for c in chain if c != model]
    return out


def _aliases(mapping: Any, groups: dict[str, list[_Deployment]]) -> dict[str, list[str]]:
    """LiteLLM's `model_group_alias: {alias: model_name}` as model_name -> aliases."""
    out: dict[str, list[str]] = {}
    for alias, target in (mapping.items() if isinstance(mapping, dict) else []):
        target = target.get("model") if isinstance(target, dict) else target
        if target not in groups:
            raise LiteLLMImportError(f"model_group_alias {alias!r} points at {target!r}, which is not a model_name")
        if alias not in groups:
            out.setdefault(str(target), []).append(str(alias))
    return out


def _note_unsupported(config: dict[str, Any], router: dict[str, Any], settings: dict[str, Any], notes: list[str]) -> None:
    if router.get("routing_strategy") not in (None, "simple-shuffle", "least-busy"):
        notes.append(
            f"routing_strategy {router['routing_strategy']!r} is not imported: Envoy balances a model's "
            "deployments with its cluster's lb_policy."
        )
    if settings.get("context_window_fallbacks") or router.get("context_window_fallbacks"):
        notes.append("context_window_fallbacks are not imported: only error fallbacks are.")
    if config.get("general_settings", {}).get("master_key"):
        notes.append(
            "general_settings.master_key is not imported: make the gateway's keys with "
            "`llm-gateway keys create --tenant NAME`."
        )


def _cluster(name: str, chain: list[list[_Deployment]], protocol_options: dict[str, Any]) -> dict[str, Any]:
    hosts = {urlsplit(d.api_base).hostname for level in chain for d in level}
    tls_hosts = sorted({urlsplit(d.api_base).hostname or "" for level in chain for d in level if d.api_base.startswith("https")})
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC" if all(_is_ip(h or "") for h in hosts) else "STRICT_DNS",
        "connect_timeout": "5s",
        "per_connection_buffer_limit_bytes": 16777216,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"priority": priority, "lb_endpoints": [_endpoint(d) for d in level]}
                for priority, level in enumerate(chain)
            ],
        },
    }
    if cluster["type"] == "STRICT_DNS":
        cluster["dns_lookup_family"] = "V4_ONLY"
    models = {d.model for level in chain for d in level}
    # The router filter prepares a request for a cluster's first endpoint only: any second endpoint
    # needs the per-attempt filter. A translated provider keeps it too, as the shipped template does
    # (the attempt log and the charging of retried resets); ADR 0003 measures what leaving it out saves.
    if sum(len(level) for level in chain) > 1 or any(provider_of(m) not in OPENAI_WIRE for m in models):
        cluster["typed_extension_protocol_options"] = copy.deepcopy(protocol_options)
    if tls_hosts:
        # One TLS context per provider host, picked by the endpoint's metadata, so each
        # endpoint of a mixed chain gets its own SNI.
        cluster["transport_socket_matches"] = [
            {"name": host, "match": {"sni": host}, "transport_socket": _tls(host)} for host in tls_hosts
        ]
    return cluster


def _endpoint(deployment: _Deployment) -> dict[str, Any]:
    url = urlsplit(deployment.api_base)
    port = url.port or (443 if url.scheme == "https" else 80)
    meta: dict[str, Any] = {
        "model": deployment.model, "api_base": deployment.api_base, **deployment.options, **deployment.prices
    }  # fmt: skip
    if deployment.api_key_env:
        meta["api_key_env"] = deployment.api_key_env
    if deployment.api_key_env == FAKE_PROVIDER_KEY_ENV:
        # As in the shipped envoy.yaml: the fake provider takes its fault headers from clients.
        meta["forward_headers"] = ["x-fake-*"]
    metadata: dict[str, Any] = {"filter_metadata": {METADATA_NAMESPACE: meta}}
    if url.scheme == "https":
        metadata["filter_metadata"]["envoy.transport_socket_match"] = {"sni": url.hostname}
    return {
        "endpoint": {"address": {"socket_address": {"address": url.hostname, "port_value": port}}},
        "metadata": metadata,
    }


def _tls(host: str) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": host,
        },
    }


def _route(
    name: str,
    cluster: str,
    kind: str,
    chain: list[list[_Deployment]],
    retry_policy: dict[str, Any] | None,
    num_retries: int,
    timeout: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"model": name, "description": f"Imported from LiteLLM ({len(chain)} level(s))."}
    if kind == "embeddings":
        meta["kind"] = "embeddings"
    action: dict[str, Any] = {"cluster": cluster, "timeout": f"{int(timeout)}s" if timeout else "600s"}
    if retry_policy is not None:
        # Enough retries to reach every fallback level.
        action["retry_policy"] = {**copy.deepcopy(retry_policy), "num_retries": max(num_retries, len(chain) - 1)}
    return {
        "match": {"prefix": "/", "headers": [{"name": MODEL_HEADER, "string_match": {"exact": name}}]},
        "route": action,
        "metadata": {"filter_metadata": {METADATA_NAMESPACE: meta}},
    }


def _replace_model_routes(config: dict[str, Any], routes: list[dict[str, Any]]) -> None:
    """Drop the template's model and lane routes; put the imported ones before its catch-all."""
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    vhost = hcm["route_config"]["virtual_hosts"][0]
    kept = [r for r in vhost["routes"] if not gateway_section(r)]
    vhost["routes"] = routes + kept


def _template_retry_policy(config: dict[str, Any]) -> dict[str, Any] | None:
    for route in iter_routes(config):
        policy: dict[str, Any] | None = (route.get("route") or {}).get("retry_policy")
        if policy:
            return copy.deepcopy(policy)
    return None


def _template_protocol_options(static: dict[str, Any]) -> dict[str, Any]:
    """The upstream ext_proc filter block of the template's per-attempt clusters."""
    for cluster in static.get("clusters", []):
        options = cluster.get("typed_extension_protocol_options")
        if options and has_upstream_ext_proc(cluster):
            return copy.deepcopy(options)
    raise LiteLLMImportError("the template envoy.yaml has no cluster with the upstream ext_proc filter to copy")


def _cluster_name(model_name: str) -> str:
    return "litellm_" + re.sub(r"[^a-zA-Z0-9_]+", "_", model_name).strip("_").lower()


def _is_ip(host: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host))
