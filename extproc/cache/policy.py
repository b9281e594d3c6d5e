"""Cache policies from envoy.yaml: per route, whether and how long answers are kept.

Gateway-wide in the `llm` virtual host's `llm_gateway` metadata, overridden
field by field on a model route:

    cache:
      mode: exact            # off | exact
      ttl_seconds: 3600
      max_temperature: 1.0   # requests above this are not cached (unset counts as 1.0)
      max_entries: 10000     # the in-process store's size (store.kind: memory); gateway-wide only

Where entries live follows `store.kind`: each service process's own LRU
(memory) or Redis, shared by every replica (redis).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..catalog import iter_routes
from ..settings import SettingsError, mapping_of, only_keys, tenancy_metadata

MODES = ("off", "exact")
# OpenAI's default temperature, for requests that do not set one.
DEFAULT_TEMPERATURE = 1.0


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """One route's cache policy."""

    mode: str = "off"
    ttl_seconds: int = 3600
    max_temperature: float = 1.0


@dataclass(frozen=True, slots=True)
class CachePolicies:
    """The gateway-wide policy, each model route's own, and the in-process store's size."""

    default: CachePolicy = CachePolicy()
    by_model: dict[str, CachePolicy] = field(default_factory=dict)
    max_entries: int = 10_000

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
    only_keys(section, ("mode", "ttl_seconds", "max_temperature", "max_entries"), "cache")
    default = _policy({k: v for k, v in section.items() if k != "max_entries"}, CachePolicy(), "cache")
    max_entries = section.get("max_entries", 10_000)
    if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
        raise SettingsError(f"cache.max_entries must be a positive whole number; got {max_entries!r}")
    by_model = {}
    for route in iter_routes(config):
        meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if "model" in meta and meta.get("cache") is not None:
            where = f"model {meta['model']!r} cache"
            raw = mapping_of(meta["cache"], where)
            only_keys(raw, ("mode", "ttl_seconds", "max_temperature"), where)
            by_model[str(meta["model"])] = _policy(raw, default, where)
    return CachePolicies(default, by_model, max_entries)


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
    return replace(base, **changes)
