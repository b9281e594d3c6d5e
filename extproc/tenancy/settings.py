"""Tenancy settings from envoy.yaml: authentication, the shared store, limits and budgets.

They live in the `llm_gateway` metadata of the virtual host that serves the
models (gateway-wide) and of each model route (per model), so that envoy.yaml
stays the one file an operator tunes:

    virtual_hosts:
    - name: llm
      metadata:
        filter_metadata:
          llm_gateway:
            auth: { mode: api_keys, keys_file: var/keys.json, loopback_metrics_without_key: false }
            store: { kind: sqlite, path: var/limits.sqlite3 }   # or memory; or redis, with redis_url
            limits:
              per_tenant: { requests_per_minute: 600, tokens_per_minute: 400000 }
              per_key:    { requests_per_minute: 300 }
              budget:     { usd_per_day: 20, usd_per_month: 300 }
            tenants:
              acme: { per_tenant: { tokens_per_minute: 2000000 }, budget: { usd_per_day: 100 } }
              # `models`: what a tenant may ask for (names or aliases); absent, any model.
              trial: { models: [auto, gpt-4o-mini] }

and on a model route, per tenant and model:

    metadata: { filter_metadata: { llm_gateway: { model: gpt-4o, limits: { tokens_per_minute: 100000 } } } }
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from extproc.config.envoy_yaml import gateway_section, iter_routes, iter_virtual_hosts
from extproc.tenancy.limits.base import DEFAULT_HOLD_TTL_S

AUTH_MODES = ("api_keys", "none")
STORE_KINDS = ("sqlite", "memory", "redis")
REDIS_URL_ENV = "LLM_GATEWAY_REDIS_URL"
# The SQLite store's file, instead of the one envoy.yaml names (tests and side-by-side runs).
STORE_PATH_ENV = "LLM_GATEWAY_STORE_PATH"
DEFAULT_STORE_PATH = "var/limits.sqlite3"
# The tenant of every request when authentication is off.
ANONYMOUS = "anonymous"


class SettingsError(ValueError):
    """Tenancy settings envoy.yaml gets wrong, in words an operator can act on."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Requests and tokens per minute; None is unlimited."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """Spend allowed per UTC day and month, in USD; None is unlimited."""

    usd_per_day: float | None = None
    usd_per_month: float | None = None


_Limit = TypeVar("_Limit", Rates, Budget)


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """The limits that apply to one tenant and to each of its keys."""

    per_tenant: Rates = Rates()
    per_key: Rates = Rates()
    budget: Budget = Budget()
    # The model names (and aliases) the tenant may ask for, by name or in a fallback list; None: any.
    models: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the auth and limits stages need to know."""

    auth_mode: str = "api_keys"
    keys_file: str = "var/keys.json"
    # GET /metrics answers loopback peers without a key (else only admin keys).
    loopback_metrics_without_key: bool = False
    # The bare object (tests, embedding) keeps state in its process; envoy.yaml's default is sqlite.
    store: str = "memory"
    store_path: str = DEFAULT_STORE_PATH
    redis_url: str | None = None
    # How long a budget hold outlives a request that never settled it (its process died).
    hold_ttl_seconds: float = DEFAULT_HOLD_TTL_S
    # What to do when the shared store cannot be reached: admit (and log) or refuse with 503.
    on_store_error: str = "allow"
    default: TenantPolicy = TenantPolicy()
    tenants: dict[str, TenantPolicy] = field(default_factory=dict)
    # Per tenant and model, by canonical model name.
    model_rates: dict[str, Rates] = field(default_factory=dict)

    def policy_for(self, tenant: str) -> TenantPolicy:
        """The tenant's own policy, or the default one."""
        return self.tenants.get(tenant, self.default)

    @property
    def limits_anything(self) -> bool:
        """False when no limit or budget is configured at all (the stage can stay out of the way)."""
        policies = [self.default, *self.tenants.values()]
        return bool(self.model_rates) or any(
            p.per_tenant != Rates() or p.per_key != Rates() or p.budget != Budget() for p in policies
        )

    def with_overrides(self, keys_file: str | None = None, redis_url: str | None = None) -> Settings:
        """These settings with the command line's (or environment's) choices applied."""
        changes: dict[str, Any] = {}
        if keys_file:
            changes["keys_file"] = keys_file
        if redis_url:
            changes["redis_url"] = redis_url
        return replace(self, **changes) if changes else self


def load_settings(config: dict[str, Any]) -> Settings:
    """Read the tenancy settings of a parsed envoy.yaml; SettingsError says what is wrong."""
    meta = tenancy_metadata(config)
    auth = mapping_of(meta.get("auth"), "auth")
    only_keys(auth, ("mode", "keys_file", "loopback_metrics_without_key"), "auth")
    mode = auth.get("mode", "api_keys")
    if mode not in AUTH_MODES:
        raise SettingsError(f"auth.mode must be one of {', '.join(AUTH_MODES)}; got {mode!r}")
    loopback_metrics = auth.get("loopback_metrics_without_key", False)
    if not isinstance(loopback_metrics, bool):
        raise SettingsError(f"auth.loopback_metrics_without_key must be true or false; got {loopback_metrics!r}")
    store = mapping_of(meta.get("store"), "store")
    only_keys(store, ("kind", "path", "redis_url", "on_error", "hold_ttl_seconds"), "store")
    kind = store.get("kind", "sqlite")
    if kind not in STORE_KINDS:
        raise SettingsError(f"store.kind must be one of {', '.join(STORE_KINDS)}; got {kind!r}")
    on_error = store.get("on_error", "allow")
    if on_error not in ("allow", "deny"):
        raise SettingsError(f"store.on_error must be allow or deny; got {on_error!r}")
    redis_url = os.environ.get(REDIS_URL_ENV) or store.get("redis_url")
    if kind == "redis" and not redis_url:
        raise SettingsError(f"store.kind is redis: set store.redis_url or the {REDIS_URL_ENV} environment variable")
    hold_ttl = _positive(store.get("hold_ttl_seconds", DEFAULT_HOLD_TTL_S), "store.hold_ttl_seconds", float)
    limits = mapping_of(meta.get("limits"), "limits")
    default = _policy(limits, "limits")
    tenants = {
        str(name): _override(default, mapping_of(value, f"tenants.{name}"), f"tenants.{name}")
        for name, value in mapping_of(meta.get("tenants"), "tenants").items()
    }
    return Settings(
        auth_mode=mode,
        keys_file=str(auth.get("keys_file", "var/keys.json")),
        loopback_metrics_without_key=loopback_metrics,
        store=kind,
        store_path=os.environ.get(STORE_PATH_ENV) or str(store.get("path", DEFAULT_STORE_PATH)),
        redis_url=redis_url,
        hold_ttl_seconds=hold_ttl,
        on_store_error=on_error,
        default=default,
        tenants=tenants,
        model_rates=_model_rates(config),
    )


def tenancy_metadata(config: dict[str, Any]) -> dict[str, Any]:
    """The `llm_gateway` metadata of the first virtual host that has any, as the config's own
    (mutable) mapping; empty when none has."""
    for vhost in iter_virtual_hosts(config):
        meta = gateway_section(vhost)
        if meta:
            return mapping_of(meta, f"virtual host {vhost.get('name')!r} metadata")
    return {}


def _policy(section: dict[str, Any], where: str) -> TenantPolicy:
    only_keys(section, ("per_tenant", "per_key", "budget"), where)
    return TenantPolicy(
        per_tenant=_rates(section.get("per_tenant"), f"{where}.per_tenant"),
        per_key=_rates(section.get("per_key"), f"{where}.per_key"),
        budget=_budget(section.get("budget"), f"{where}.budget"),
    )


def _override(default: TenantPolicy, section: dict[str, Any], where: str) -> TenantPolicy:
    only_keys(section, ("per_tenant", "per_key", "budget", "models"), where)
    models = _models(section.get("models"), f"{where}.models")
    own = _policy({k: v for k, v in section.items() if k != "models"}, where)
    return TenantPolicy(
        per_tenant=_merged(default.per_tenant, own.per_tenant),
        per_key=_merged(default.per_key, own.per_key),
        budget=_merged(default.budget, own.budget),
        models=models,
    )


def _models(value: Any, where: str) -> frozenset[str] | None:
    """A tenant's `models` allow-list (names or aliases), or None when it sets none."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and m for m in value):
        raise SettingsError(f"{where} must be a non-empty list of model names or aliases; got {value!r}")
    return frozenset(value)


def _merged(base: _Limit, override: _Limit) -> _Limit:
    """`base` with every limit `override` sets (not None) replaced."""
    changes = {f.name: getattr(override, f.name) for f in fields(override) if getattr(override, f.name) is not None}
    return replace(base, **changes)


def _model_rates(config: dict[str, Any]) -> dict[str, Rates]:
    rates = {}
    for route in iter_routes(config):
        meta = gateway_section(route) or {}
        if "model" in meta and meta.get("limits") is not None:
            rates[str(meta["model"])] = _rates(meta["limits"], f"model {meta['model']!r} limits")
    return rates


def _rates(value: Any, where: str) -> Rates:
    section = mapping_of(value, where)
    only_keys(section, ("requests_per_minute", "tokens_per_minute"), where)
    return Rates(
        _positive(section.get("requests_per_minute"), f"{where}.requests_per_minute", int),
        _positive(section.get("tokens_per_minute"), f"{where}.tokens_per_minute", int),
    )


def _budget(value: Any, where: str) -> Budget:
    section = mapping_of(value, where)
    only_keys(section, ("usd_per_day", "usd_per_month"), where)
    return Budget(
        _positive(section.get("usd_per_day"), f"{where}.usd_per_day", float),
        _positive(section.get("usd_per_month"), f"{where}.usd_per_month", float),
    )


def _positive(value: Any, where: str, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SettingsError(f"{where} must be a positive number; got {value!r}")
    if kind is int and value != int(value):
        raise SettingsError(f"{where} must be a whole number; got {value!r}")
    return kind(value)


def mapping_of(value: Any, where: str) -> dict[str, Any]:
    """`value` as a mapping ({} for None); SettingsError naming `where` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be a mapping; got {type(value).__name__}")
    return value


def only_keys(section: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """SettingsError naming any key of `section` not in `allowed` (a typo would otherwise be ignored)."""
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise SettingsError(f"{where} does not know {', '.join(unknown)}; it takes {', '.join(allowed)}")
