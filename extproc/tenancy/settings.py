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
from typing import Any, TypeVar, get_args

from extproc.config.envoy_yaml import gateway_section, iter_virtual_hosts
from extproc.config.schema import tenancy as schema
from extproc.config.validation import ConfigError, gateway_settings
from extproc.tenancy.limits.base import DEFAULT_HOLD_TTL_S

AUTH_MODES = get_args(schema.AuthMode)
STORE_KINDS = get_args(schema.StoreKind)
REDIS_URL_ENV = "LLM_GATEWAY_REDIS_URL"
# The SQLite store's file, instead of the one envoy.yaml names (tests and side-by-side runs).
STORE_PATH_ENV = "LLM_GATEWAY_STORE_PATH"
DEFAULT_STORE_PATH = schema.DEFAULT_STORE_PATH
# The tenant of every request when authentication is off.
ANONYMOUS = "anonymous"


class SettingsError(ConfigError):
    """Tenancy settings envoy.yaml gets wrong beyond their schema (a Redis store without an address)."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


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
    """Read the tenancy settings of a parsed envoy.yaml; ConfigError (or SettingsError) says what is wrong."""
    settings = gateway_settings(config)
    host = settings.virtual_host
    redis_url = os.environ.get(REDIS_URL_ENV) or host.store.redis_url
    if host.store.kind == "redis" and not redis_url:
        raise SettingsError(f"store.kind is redis: set store.redis_url or the {REDIS_URL_ENV} environment variable")
    default = _policy(host.limits)
    return Settings(
        auth_mode=host.auth.mode,
        keys_file=host.auth.keys_file,
        loopback_metrics_without_key=host.auth.loopback_metrics_without_key,
        store=host.store.kind,
        store_path=os.environ.get(STORE_PATH_ENV) or host.store.path,
        redis_url=redis_url,
        hold_ttl_seconds=host.store.hold_ttl_seconds,
        on_store_error=host.store.on_error,
        default=default,
        tenants={name: _override(default, section) for name, section in host.tenants.items()},
        model_rates={name: _rates(route.limits) for name, route in settings.routes.items() if route.limits is not None},
    )


def tenancy_metadata(config: dict[str, Any]) -> dict[str, Any]:
    """The `llm_gateway` metadata of the first virtual host that has any, as the config's own
    (mutable) mapping; empty when none has."""
    for vhost in iter_virtual_hosts(config):
        meta = gateway_section(vhost)
        if meta:
            return mapping_of(meta, f"virtual host {vhost.get('name')!r} metadata")
    return {}


def _policy(section: schema.TenantLimits) -> TenantPolicy:
    return TenantPolicy(per_tenant=_rates(section.per_tenant), per_key=_rates(section.per_key), budget=_budget(section.budget))


def _override(default: TenantPolicy, own_section: schema.TenantSettings) -> TenantPolicy:
    """`default` with every limit the tenant's own section sets replaced, and its models allow-list."""
    own = _policy(own_section)
    return TenantPolicy(
        per_tenant=_merged(default.per_tenant, own.per_tenant),
        per_key=_merged(default.per_key, own.per_key),
        budget=_merged(default.budget, own.budget),
        models=frozenset(own_section.models) if own_section.models is not None else None,
    )


def _merged(base: _Limit, override: _Limit) -> _Limit:
    """`base` with every limit `override` sets (not None) replaced."""
    changes = {f.name: getattr(override, f.name) for f in fields(override) if getattr(override, f.name) is not None}
    return replace(base, **changes)


def _rates(section: schema.Rates) -> Rates:
    return Rates(section.requests_per_minute, section.tokens_per_minute)


def _budget(section: schema.Budget) -> Budget:
    return Budget(section.usd_per_day, section.usd_per_month)


def mapping_of(value: Any, where: str) -> dict[str, Any]:
    """`value` as a mapping ({} for None); SettingsError naming `where` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be a mapping; got {type(value).__name__}")
    return value
