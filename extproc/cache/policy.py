"""Cache policies from envoy.yaml: per route, whether and how long answers are kept.

Gateway-wide in the `llm` virtual host's `llm_gateway` metadata, overridden
field by field on a model route:

    cache:
      mode: exact            # off | exact | semantic (exact first, then by meaning)
      ttl_seconds: 3600
      max_temperature: 1.0   # requests above this are not cached (unset counts as 1.0)
      guards: [number, negation, near_miss, unit, entity, language, task]   # semantic
      # semantic, learned (the default): the expected share of wrong cached answers per lookup,
      # and the share of lookups that may be explored to learn (see learned.py, budget.py)
      max_error_rate: 0.01
      max_exploration_rate: 0.25
      compare: embedding     # how an exploration is labelled: embedding | exact (labels.py)
      answer_similarity: 0.9 # compare: embedding, the answers' similarity that counts as the same
      # semantic, fixed instead: the cosine similarity a hit needs (no learning, no bound)
      # threshold: 0.82
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

from extproc.cache.guards import GUARDS
from extproc.cache.labels import COMPARISONS
from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.tenancy.settings import SettingsError, mapping_of, only_keys, tenancy_metadata

MODES = ("off", "exact", "semantic")
SEMANTIC_STORES = ("memory", "pgvector")
POSTGRES_URL_ENV = "LLM_GATEWAY_POSTGRES_URL"
# The lowest fixed threshold that kept false hits within 1% on tests/data/semantic_cache_pairs.jsonl
# (benchmarks/semantic_cache_eval.py); a route that wants a fixed threshold names its own.
DEFAULT_THRESHOLD = 0.82
DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_MAX_EXPLORATION_RATE = 0.25
# OpenAI's default temperature, for requests that do not set one.
DEFAULT_TEMPERATURE = 1.0


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """One route's cache policy."""

    mode: str = "off"
    ttl_seconds: int = 3600
    max_temperature: float = 1.0
    # Semantic: a fixed similarity a hit needs; None (the default) learns instead, within the bounds below.
    threshold: float | None = None
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_exploration_rate: float = DEFAULT_MAX_EXPLORATION_RATE
    compare: str = "embedding"
    answer_similarity: float = 0.9
    guards: tuple[str, ...] = tuple(GUARDS)

    @property
    def learned(self) -> bool:
        """True when semantic hits are decided by the learned model (no fixed threshold)."""
        return self.threshold is None


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
        meta = gateway_section(route) or {}
        if "model" in meta and meta.get("cache") is not None:
            where = f"model {meta['model']!r} cache"
            raw = mapping_of(meta["cache"], where)
            only_keys(raw, ROUTE_KEYS, where)
            by_model[str(meta["model"])] = _policy(raw, default, where)
    return CachePolicies(default, by_model, max_entries, semantic_store, postgres_url)


ROUTE_KEYS = (
    "mode", "ttl_seconds", "max_temperature", "threshold", "max_error_rate", "max_exploration_rate", "compare",
    "answer_similarity", "guards",
)  # fmt: skip


def _policy(section: dict[str, Any], base: CachePolicy, where: str) -> CachePolicy:
    changes: dict[str, Any] = {}
    if "threshold" in section and "max_error_rate" in section:
        raise SettingsError(
            f"{where} sets both threshold and max_error_rate: they are two ways to decide a semantic hit. "
            "Keep max_error_rate to learn per entry within that error rate, or threshold for a fixed similarity."
        )
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
    if "max_error_rate" in section:
        # A route that asks for a bound learns, even where the gateway-wide default is fixed.
        changes["threshold"] = None
        changes["max_error_rate"] = _number(section["max_error_rate"], 0.0, 0.5, f"{where}.max_error_rate", low_open=True)
    if "max_exploration_rate" in section:
        changes["max_exploration_rate"] = _number(section["max_exploration_rate"], 0.0, 1.0, f"{where}.max_exploration_rate")
    if "compare" in section:
        if section["compare"] not in COMPARISONS:
            raise SettingsError(f"{where}.compare must be one of {', '.join(COMPARISONS)}; got {section['compare']!r}")
        changes["compare"] = section["compare"]
    if "answer_similarity" in section:
        changes["answer_similarity"] = _number(section["answer_similarity"], 0.5, 1.0, f"{where}.answer_similarity")
    if "guards" in section:
        guards = section["guards"]
        if not isinstance(guards, list) or any(g not in GUARDS for g in guards):
            raise SettingsError(f"{where}.guards must be a list of: {', '.join(GUARDS)}; got {guards!r}")
        changes["guards"] = tuple(guards)
    return replace(base, **changes)


def _number(value: Any, low: float, high: float, where: str, low_open: bool = False) -> float:
    """`value` as a float within [low, high] (or (low, high]); SettingsError otherwise."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if not ok or not (low < value if low_open else low <= value) or value > high:
        bounds = f"above {low:g} and at most {high:g}" if low_open else f"from {low:g} to {high:g}"
        raise SettingsError(f"{where} must be a number {bounds}; got {value!r}")
    return float(value)
