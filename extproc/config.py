"""Loading envoy.yaml and building the service's start-up state from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from extproc.catalog import Catalog, CatalogError, Endpoint, load_catalog
from extproc.credentials import Credentials
from extproc.endpoints import default_registry
from extproc.estimate import Estimator
from extproc.pricing import Pricing
from extproc.auth import Authenticator
from extproc.keys import FileKeyStore, KeyStore, RedisKeyStore
from extproc.limits import Limits, MemoryLimits, RedisLimits, SqliteLimits
from extproc.processor import Gateway
from extproc.cache.policy import CachePolicies, load_cache_policies
from extproc.cache.embeddings import Embedder
from extproc.cache.semantic import MemoryIndex, PgVectorIndex, SemanticIndex
from extproc.cache.store import CacheStore, MemoryCache, RedisCache
from extproc.redaction.policy import PrivacyPolicies, load_privacy
from extproc.settings import Settings, load_settings
from extproc.stages import AccountingStage, CacheStage, CostControlStage, LimitsStage, RedactionStage, RoutingStage, Stage
from extproc.stages.answer_size import AnswerSizeStage
from extproc.translation import ProviderTranslator, TranslationError

# The shipped configuration, next to the package in a source checkout.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "envoy" / "envoy.yaml"


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse an Envoy bootstrap YAML file."""
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not an Envoy bootstrap (a YAML mapping)")
    return config


def build_gateway(
    config: dict[str, Any],
    pricing: Pricing | None = None,
    credentials: Credentials | None = None,
    settings: Settings | None = None,
    privacy: PrivacyPolicies | None = None,
    cache: CachePolicies | None = None,
) -> Gateway:
    """The catalog, endpoint registry, stores and stage pipeline that envoy.yaml describes."""
    catalog = load_catalog(config)
    settings = settings or load_settings(config)
    privacy = privacy if privacy is not None else load_privacy(config)
    cache = cache if cache is not None else load_cache_policies(config)
    pricing = pricing or Pricing()
    estimator = Estimator(pricing)
    keys, limits = build_stores(settings)
    # The order is the request's path, and the response side runs the same order:
    # - routing first (every policy is per route), then the answer size (a refusal before
    #   anything scans, reserves or prices), then redaction, before anything counts, prices
    #   or caches the prompt;
    # - cost control, then accounting, then limits: limits holds the worst case on the
    #   endpoints cost control lets the chain reach, and settles after accounting priced;
    # - limits before the cache, so a hit takes a request from the request buckets (its
    #   tokens and hold come back whole when the hit settles); no stage after limits may
    #   refuse a request, or its reservation would wait for its expiry;
    # - the cache last: a hit ends the pipeline, and a miss stores the answer once priced.
    stages: list[Stage] = [RoutingStage(catalog), AnswerSizeStage()]
    if privacy.any_active:
        stages.append(RedactionStage(privacy))
    stages += [CostControlStage(estimator), AccountingStage(pricing)]
    if settings.limits_anything:
        stages.append(LimitsStage(settings, limits, estimator))
    cache_stage = None
    if cache.any_active:
        index, embedder = build_semantic_index(cache) if cache.any_semantic else (None, None)
        cache_stage = CacheStage(cache, build_cache_store(settings, cache), index, embedder)
        stages.append(cache_stage)
    return Gateway(
        catalog=catalog,
        registry=default_registry(),
        stages=stages,
        credentials=credentials or Credentials(),
        translators=build_translators(catalog),
        estimator=estimator,
        pricing=pricing,
        authenticator=Authenticator(keys, settings.loopback_metrics_without_key),
        settings=settings,
        limits=limits,
        cache=cache_stage,
        envoy_admin_url=envoy_admin_url(config),
    )


def envoy_admin_url(config: dict[str, Any]) -> str | None:
    """Envoy's admin interface as the config places it (loopback in the shipped one), or None."""
    socket = ((config.get("admin") or {}).get("address") or {}).get("socket_address") or {}
    host, port = socket.get("address"), socket.get("port_value")
    if not host or not port:
        return None
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def build_semantic_index(policies: CachePolicies) -> tuple[SemanticIndex, Embedder]:
    """The semantic index the cache policies choose, and the embedding model (loaded now, and run
    once, so that the first request does not pay for it)."""
    embedder = Embedder()
    embedder.embed_one("warm up")
    if policies.semantic_store == "pgvector":
        return PgVectorIndex(policies.postgres_url or "", policies.max_entries), embedder
    return MemoryIndex(policies.max_entries), embedder


def build_cache_store(settings: Settings, policies: CachePolicies) -> CacheStore:
    """Redis when the tenancy store is shared, else this process's LRU."""
    if settings.store == "redis":
        return RedisCache(redis_client(settings.redis_url or ""))
    return MemoryCache(policies.max_entries)


def build_stores(settings: Settings) -> tuple[KeyStore | None, Limits]:
    """The key store (None without authentication) and the limits store the settings choose.

    Keys live in Redis with the Redis store, else in the key file (shared by the processes
    of one host); buckets, spend and holds in Redis, the SQLite file, or this process.
    """
    if settings.store == "redis":
        client = redis_client(settings.redis_url or "")
        keys: KeyStore | None = RedisKeyStore(client)
        limits: Limits = RedisLimits(client)
    else:
        keys = FileKeyStore(settings.keys_file)
        limits = SqliteLimits(settings.store_path) if settings.store == "sqlite" else MemoryLimits()
    return (keys if settings.auth_mode == "api_keys" else None), limits


def redis_client(url: str) -> Any:
    """An asyncio Redis client that gives up quickly: a slow store must not hold requests."""
    import redis.asyncio  # noqa: PLC0415 - only deployments with a shared store need it

    return redis.asyncio.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True)


def build_translators(catalog: Catalog) -> dict[Endpoint, ProviderTranslator]:
    """One translator per provider endpoint; CatalogError names an endpoint LiteLLM cannot serve."""
    translators: dict[Endpoint, ProviderTranslator] = {}
    for route in catalog.routes.values():
        for endpoint in route.endpoints:
            options = {"api_version": endpoint.api_version} if endpoint.api_version else None
            try:
                translators[endpoint] = ProviderTranslator.for_model(endpoint.model, endpoint.api_base, options)
            except (TranslationError, ValueError) as exc:
                raise CatalogError(
                    f"endpoint {endpoint.address} of cluster {endpoint.cluster!r}: model {endpoint.model!r} "
                    f"cannot be served: {exc}"
                ) from None
    return translators
