"""The composition root: everything built once at start-up from envoy.yaml, and how.

`build_gateway` reads the catalog, the tenancy, privacy and cache policies,
opens the stores, builds one translator per provider endpoint, declares the
stage pipeline (`stages/pipeline.py`) and the endpoint registry, whose local
endpoints get what they answer from here. The gRPC server
(`ext_proc/server.py`) then makes one processor per stream from the
`Gateway`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from extproc.cache.embeddings import Embedder
from extproc.cache.policy import CachePolicies, load_cache_policies
from extproc.cache.semantic import MemoryIndex, PgVectorIndex, SemanticIndex
from extproc.cache.sqlite_store import SqliteCache
from extproc.cache.store import CacheStore, MemoryCache, RedisCache
from extproc.config.catalog import Catalog, CatalogError, Endpoint, load_catalog
from extproc.config.envoy_yaml import envoy_admin_url
from extproc.cost.estimate import Estimator
from extproc.cost.pricing import Pricing
from extproc.endpoints import Registry, default_registry
from extproc.playground.files import StaticFiles
from extproc.prompts.resolver import PromptResolver
from extproc.prompts.settings import PromptSettings, load_prompt_settings
from extproc.redaction.policy import PrivacyPolicies, load_privacy
from extproc.redaction.pool import ScanPool
from extproc.routing.classifier import Classifier
from extproc.routing.conversations import ConversationStore, MemoryConversations, RedisConversations, SqliteConversations
from extproc.routing.policy import RoutingPolicies, load_routing
from extproc.seed_api import ModelChoices
from extproc.stages.base import Stage
from extproc.stages.cache import CacheStage
from extproc.stages.pipeline import Pipeline, build_pipeline
from extproc.stages.prompt import PromptStage
from extproc.stages.recent import RecentRequestsStage
from extproc.stages.redaction import RedactionStage
from extproc.stages.routing import RoutingStage
from extproc.stages.seed_api import SeedApiStage
from extproc.stores import redis_client
from extproc.telemetry.recent import RecentRequests
from extproc.tenancy.auth import Authenticator
from extproc.tenancy.keys import FileKeyStore, KeyStore, RedisKeyStore
from extproc.tenancy.limits import Limits, MemoryLimits, RedisLimits, SqliteLimits
from extproc.tenancy.settings import Settings, load_settings
from extproc.translation import ProviderTranslator, TranslationError
from extproc.upstream.credentials import Credentials


@dataclass(slots=True)
class Gateway:
    """Everything built once at start-up and shared by every request."""

    catalog: Catalog
    registry: Registry
    pipeline: Pipeline
    credentials: Credentials
    translators: dict[Endpoint, ProviderTranslator]
    estimator: Estimator
    pricing: Pricing
    settings: Settings
    limits: Limits
    # The key store (None without authentication).
    keys: KeyStore | None = None
    # The response cache, when a route caches.
    cache: CacheStage | None = None
    cache_policies: CachePolicies | None = None
    # The prompt registry: its store, and the versions and labels this process has read.
    prompts: PromptResolver | None = None
    prompt_settings: PromptSettings | None = None
    # The tenants' recent requests in this process (the playground's list); a reload keeps them.
    recent: RecentRequests = field(default_factory=RecentRequests)
    # Requests being finished after their stream ended early (a reference keeps each task alive).
    unfinished: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def stages(self) -> tuple[Stage, ...]:
        """Every stage of the pipeline, in request order."""
        return self.pipeline.stages

    @property
    def scan_pools(self) -> list[ScanPool]:
        """The redaction stage's worker pool, when a route redacts (started and stopped with the server)."""
        return [stage.pool for stage in self.stages if isinstance(stage, RedactionStage)]


def build_gateway(
    config: dict[str, Any],
    pricing: Pricing | None = None,
    credentials: Credentials | None = None,
    settings: Settings | None = None,
    privacy: PrivacyPolicies | None = None,
    cache: CachePolicies | None = None,
    prompts: PromptSettings | None = None,
    previous: Gateway | None = None,
    routing: RoutingPolicies | None = None,
) -> Gateway:
    """The catalog, endpoint registry, stores and stage pipeline that envoy.yaml describes.

    On a reload, `previous` is the gateway being replaced: its stores, cache entries, semantic
    index, prompt registry and redaction workers carry over whenever the new settings keep them
    where they were (a reload neither empties a cache nor refills a tenant's buckets).
    """
    catalog = load_catalog(config)
    settings = settings or load_settings(config)
    prompts = prompts or load_prompt_settings(config, settings)
    routing = routing if routing is not None else load_routing(config, catalog)
    privacy = privacy if privacy is not None else load_privacy(config)
    cache = cache if cache is not None else load_cache_policies(config)
    pricing = pricing or (previous.pricing if previous is not None else Pricing())
    estimator = Estimator(pricing)
    if previous is not None and _same_stores(previous.settings, settings):
        keys, limits = previous.keys, previous.limits
    else:
        keys, limits = build_stores(settings)
    authenticator = Authenticator(keys, settings.loopback_metrics_without_key)
    cache_stage = None
    if cache.any_active:
        kept = previous.cache if previous is not None and _same_cache(previous, settings, cache) else None
        if kept is not None:
            cache_stage = CacheStage(cache, kept.store, kept.index, kept.embedder)
        else:
            index, embedder = build_semantic_index(cache) if cache.any_semantic else (None, None)
            cache_stage = CacheStage(cache, build_cache_store(settings, cache), index, embedder)
    if previous is not None and previous.prompts is not None and previous.prompt_settings == prompts:
        resolver = previous.prompts
    else:
        resolver = PromptResolver(prompts.open_store(), prompts.head_ttl_seconds, prompts.max_rendered_bytes)
    prompt_stage = PromptStage(resolver, prompts.body_limit)
    pool = previous.scan_pools[0] if previous is not None and previous.scan_pools else None
    recent = previous.recent if previous is not None else RecentRequests()
    pipeline = build_pipeline(
        build_routing(catalog, routing, settings, privacy),
        authenticator,
        settings,
        limits,
        privacy,
        cache_stage,
        pricing,
        estimator,
        prompt_stage,
        pool,
        RecentRequestsStage(recent),
        SeedApiStage(ModelChoices.from_catalog(catalog)),
    )
    return Gateway(
        catalog=catalog,
        registry=default_registry(
            catalog, settings, limits, cache_stage, envoy_admin_url(config), resolver, recent, _playground(previous)
        ),
        pipeline=pipeline,
        credentials=credentials or Credentials(),
        translators=build_translators(catalog),
        estimator=estimator,
        pricing=pricing,
        settings=settings,
        limits=limits,
        keys=keys,
        cache=cache_stage,
        cache_policies=cache,
        prompts=resolver,
        prompt_settings=prompts,
        recent=recent,
    )


def _playground(previous: Gateway | None) -> StaticFiles:
    """The playground's files (read once per process: a reload keeps the ones read)."""
    kept = previous.registry.static("/playground/") if previous is not None else None
    return kept if kept is not None else StaticFiles()


def _same_stores(before: Settings, after: Settings) -> bool:
    """True when the key and limits stores `after` asks for are the ones `before` opened."""
    fields = ("auth_mode", "keys_file", "store", "store_path", "redis_url")
    return all(getattr(before, name) == getattr(after, name) for name in fields)


def _same_cache(previous: Gateway, settings: Settings, policies: CachePolicies) -> bool:
    """True when the previous gateway's cache store and semantic index are where `policies` want them."""
    before = previous.cache_policies
    if previous.cache is None or before is None or not _same_stores(previous.settings, settings):
        return False
    where = ("max_entries", "semantic_store", "postgres_url")
    same_place = all(getattr(before, name) == getattr(policies, name) for name in where)
    return same_place and (previous.cache.index is not None or not policies.any_semantic)


def build_routing(catalog: Catalog, policies: RoutingPolicies, settings: Settings, privacy: PrivacyPolicies) -> RoutingStage:
    """The routing stage, with the classifier loaded when a policy classifies (~40 ms, 25 MiB) and the
    conversation store when a policy keeps conversations' tiers (where `store.kind` says)."""
    classifier = Classifier.load() if policies.classifies else None
    conversations: ConversationStore | None = None
    if any(p.conversation is not None for p in policies.by_model.values()):
        if settings.store == "redis":
            conversations = RedisConversations(redis_client(settings.redis_url or ""))
        elif settings.store == "sqlite":
            conversations = SqliteConversations(settings.store_path)
        else:
            conversations = MemoryConversations()
    return RoutingStage(catalog, policies, settings, classifier, conversations, privacy)


def build_semantic_index(policies: CachePolicies) -> tuple[SemanticIndex, Embedder]:
    """The semantic index the cache policies choose, and the embedding model (loaded now, and run
    once, so that the first request does not pay for it)."""
    embedder = Embedder()
    embedder.embed_one("warm up")
    if policies.semantic_store == "pgvector":
        return PgVectorIndex(policies.postgres_url or "", policies.max_entries), embedder
    return MemoryIndex(policies.max_entries), embedder


def build_cache_store(settings: Settings, policies: CachePolicies) -> CacheStore:
    """Where the tenancy store is: Redis (every replica), the host's SQLite file (every process of the
    host), or this process's LRU (`memory`)."""
    if settings.store == "redis":
        return RedisCache(redis_client(settings.redis_url or ""))
    if settings.store == "sqlite":
        return SqliteCache(settings.store_path, policies.max_entries)
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


def build_translators(catalog: Catalog) -> dict[Endpoint, ProviderTranslator]:
    """One translator per provider endpoint; CatalogError names an endpoint LiteLLM cannot serve."""
    translators: dict[Endpoint, ProviderTranslator] = {}
    fallback_copies = catalog.fallback_list.endpoints.values() if catalog.fallback_list is not None else ()
    for endpoints in (*(r.endpoints for r in catalog.routes.values()), *fallback_copies):
        for endpoint in endpoints:
            options = {"api_version": endpoint.api_version} if endpoint.api_version else None
            try:
                translators[endpoint] = ProviderTranslator.for_model(endpoint.model, endpoint.api_base, options)
            except (TranslationError, ValueError) as exc:
                raise CatalogError(
                    f"endpoint {endpoint.address} of cluster {endpoint.cluster!r}: model {endpoint.model!r} "
                    f"cannot be served: {exc}"
                ) from None
    return translators
