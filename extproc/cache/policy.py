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
from typing import Any, get_args

from extproc.config.schema.cache import ALL_GUARDS, CacheMode, RouteCache, SemanticStore
from extproc.config.validation import gateway_settings
from extproc.tenancy.settings import SettingsError

MODES = get_args(CacheMode)
SEMANTIC_STORES = get_args(SemanticStore)
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
    guards: tuple[str, ...] = tuple(ALL_GUARDS)

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
    """Read every cache policy of a parsed envoy.yaml; ConfigError (or SettingsError) says what is wrong."""
    settings = gateway_settings(config)
    section = settings.virtual_host.cache
    default = _policy(section, CachePolicy())
    postgres_url = os.environ.get(POSTGRES_URL_ENV) or section.postgres_url
    if section.semantic_store == "pgvector" and not postgres_url:
        raise SettingsError(f"cache.semantic_store is pgvector: set cache.postgres_url or {POSTGRES_URL_ENV}")
    by_model = {name: _policy(route.cache, default) for name, route in settings.routes.items() if route.cache is not None}
    return CachePolicies(default, by_model, section.max_entries, section.semantic_store, postgres_url)


def _policy(section: RouteCache, base: CachePolicy) -> CachePolicy:
    """`base` with every field `section` sets replaced (a route inherits the rest from the virtual host)."""
    changes: dict[str, Any] = {name: getattr(section, name) for name in ROUTE_KEYS if section.is_set(name)}
    if "guards" in changes:
        changes["guards"] = tuple(changes["guards"])
    if section.is_set("max_error_rate"):
        # A route that asks for a bound learns, even where the gateway-wide default is fixed.
        changes["threshold"] = None
    return replace(base, **changes)


# The fields a model route may set (the rest of the virtual host's section is gateway-wide).
ROUTE_KEYS = tuple(RouteCache.model_fields)
