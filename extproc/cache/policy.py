"""Cache policies from envoy.yaml: per route, whether and how long answers are kept.

Gateway-wide in the `llm` virtual host's `llm_gateway` metadata, overridden
field by field on a model route:

    cache:
      mode: exact            # off | exact | semantic (exact first, then by meaning)
      ttl_seconds: 3600
      max_temperature: 1.0   # requests above this are not cached (unset counts as 1.0)
      threshold: 0.82        # semantic: the cosine similarity a hit needs
      guards: [number, negation, near_miss, unit, entity, language, task]   # semantic
      # Gateway-wide only:
      max_entries: 10000     # the in-process stores' size
      semantic_store: memory # or pgvector, with postgres_url (or LLM_GATEWAY_POSTGRES_URL)

Where exact entries live follows `store.kind`: each service process's own
LRU (memory) or Redis, shared by every replica (redis). Semantic entries live
in each process (memory) or in PostgreSQL with pgvector (pgvector).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from ..catalog import iter_routes
from ..settings import SettingsError, mapping_of, only_keys, tenancy_metadata

from .guards import GUARDS

MODES = ("off", "exact", "semantic")
SEMANTIC_STORES = ("memory", "pgvector")
POSTGRES_URL_ENV = "LLM_GATEWAY_POSTGRES_URL"
# The lowest threshold that kept false hits within 1% on tests/data/semantic_cache_pairs.jsonl
# (benchmarks/semantic_cache_eval.py).
DEFAULT_THRESHOLD = 0.82
# OpenAI's default temperature, for requests that do not set one.
DEFAULT_TEMPERATURE = 1.0


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """One route's cache policy."""

    mode: str = "off"
    ttl_seconds: int = 3600
    max_temperature: float = 1.0
    threshold: float = DEFAULT_THRESHOLD
    guards: tuple[str, ...] = tuple(GUARDS)


@dataclass(frozen=True, slots=True)
class CachePolicies:
    """The gateway-wide policy, each model route's own, and the in-process store's size."""

    default: CachePolicy = CachePolicy()
    by_model: dict[str, CachePolicy] = field(default_factory=dict)
    max_entries: int = 10_000
    semantic_store: str = "memory"
    postgres_url: str | None = None

    @property
    def any_semantic(self) -> bool:
        """True when some route looks answers up by meaning (the embedder must be loaded)."""
        return self.default.mode == "semantic" or any(p.mode == "semantic" for p in self.by_model.values())

    @property
    def any_active(self) -> bool:
        """False when no route caches (the stage can stay out of the way)."""
        return self.default.mode != "off" or any(p.mode != "off" for p in self.by_model.values())

    def for_model(self, model: str | None) -> CachePolicy:
        """The policy of the route serving `model` (its canonical name)."""
        return self.by_model.get(model or "", self.default)


def load_cache_policies(config: dict[str, Any]) -> CachePolicies:
    """Read every cache policy of a parsed envoy.yaml; SettingsError says what is wrong."""
    section = mapping_of(tenancy_metadata(config).get("cache"), "cache")
    gateway_wide = ("max_entries", "semantic_store", "postgres_url")
    only_keys(section, (*ROUTE_KEYS, *gateway_wide), "cache")
    default = _policy({k: v for k, v in section.items() if k not in gateway_wide}, CachePolicy(), "cache")
    max_entries = section.get("max_entries", 10_000)
    if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
        raise SettingsError(f"cache.max_entries must be a positive whole number; got {max_entries!r}")
    semantic_store = section.get("semantic_store", "memory")
    if semantic_store not in SEMANTIC_STORES:
        raise SettingsError(f"cache.semantic_store must be one of {', '.join(SEMANTIC_STORES)}; got {semantic_store!r}")
    postgres_url = os.environ.get(POSTGRES_URL_ENV) or section.get("postgres_url")
    if semantic_store == "pgvector" and not postgres_url:
        raise SettingsError(f"cache.semantic_store is pgvector: set cache.postgres_url or {POSTGRES_URL_ENV}")
    by_model = {}
    for route in iter_routes(config):
        meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if "model" in meta and meta.get("cache") is not None:
            where = f"model {meta['model']!r} cache"
            raw = mapping_of(meta["cache"], where)
            only_keys(raw, ROUTE_KEYS, where)
            by_model[str(meta["model"])] = _policy(raw, default, where)
    return CachePolicies(default, by_model, max_entries, semantic_store, postgres_url)


ROUTE_KEYS = ("mode", "ttl_seconds", "max_temperature", "threshold", "guards")


def _policy(section: dict[str, Any], base: CachePolicy, where: str) -> CachePolicy:
    changes: dict[str, Any] = {}
    if "mode" in section:
        mode = "off" if section["mode"] is False else section["mode"]  # YAML reads a bare off as false
        if mode not in MODES:
            raise SettingsError(f"{where}.mode must be one of {', '.join(MODES)}; got {mode!r}")
        changes["mode"] = mode
    if "ttl_seconds" in section:
        ttl = section["ttl_seconds"]
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise SettingsError(f"{where}.ttl_seconds must be a positive whole number; got {ttl!r}")
        changes["ttl_seconds"] = ttl
    if "max_temperature" in section:
        bound = section["max_temperature"]
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 <= bound <= 2:
            raise SettingsError(f"{where}.max_temperature must be a number from 0 to 2; got {bound!r}")
        changes["max_temperature"] = float(bound)
    if "threshold" in section:
        threshold = section["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.5 <= threshold <= 1:
            raise SettingsError(f"{where}.threshold must be a number from 0.5 to 1; got {threshold!r}")
        changes["threshold"] = float(threshold)
    if "guards" in section:
        guards = section["guards"]
        if not isinstance(guards, list) or any(g not in GUARDS for g in guards):
            raise SettingsError(f"{where}.guards must be a list of: {', '.join(GUARDS)}; got {guards!r}")
        changes["guards"] = tuple(guards)
    return replace(base, **changes)
