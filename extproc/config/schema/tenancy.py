"""Tenancy settings: authentication, the shared store, limits and budgets (extproc/tenancy reads them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from extproc.config.schema.base import NonEmpty, Section

AuthMode = Literal["api_keys", "none"]
StoreKind = Literal["sqlite", "memory", "redis"]
DEFAULT_KEYS_FILE = "var/keys.json"
DEFAULT_STORE_PATH = "var/limits.sqlite3"
# How long a budget hold outlives a request that never settled it: above the longest route timeout (600 s).
DEFAULT_HOLD_TTL_S = 900.0


class Auth(Section):
    """Who may call: gateway API keys, or nobody checked."""

    mode: AuthMode = Field(
        "api_keys",
        description="`api_keys`: every request needs a gateway key (401 otherwise). `none`: every request is "
        "tenant `anonymous` (local demos only; `llm-gateway check` warns).",
    )
    keys_file: str = Field(
        DEFAULT_KEYS_FILE,
        description="The hashed keys, for `store.kind: sqlite` and `memory` (relative to the working directory; "
        "`serve --keys-file` overrides).",
    )
    loopback_metrics_without_key: bool = Field(
        False,
        description="`true`: `GET /metrics` also answers keyless clients on the gateway's own host (a local "
        "Prometheus); otherwise admin keys only.",
    )


class Store(Section):
    """Where keys, token buckets, spend and budget holds live."""

    kind: StoreKind = Field(
        "sqlite",
        description="`sqlite`: buckets, spend, budget holds and the exact cache in one file shared by every service "
        "process of the host; spend survives restarts. `memory`: in each service process (one process; tests). "
        "`redis`: keys, buckets, spend and the exact cache shared by every replica.",
    )
    path: str = Field(
        DEFAULT_STORE_PATH,
        description="The SQLite file (relative to the working directory); the `LLM_GATEWAY_STORE_PATH` environment "
        "variable wins.",
    )
    redis_url: str | None = Field(
        None,
        description="`redis://host:port/db`, needed by `kind: redis`; the `LLM_GATEWAY_REDIS_URL` environment "
        "variable wins.",
    )
    on_error: Literal["allow", "deny"] = Field(
        "allow",
        description="When the store cannot answer (Redis down or hung, the SQLite file locked for 2 s or "
        "unreadable): `allow` admits (logs `limits store unavailable`, decision `limits:store_unavailable`), "
        "`deny` answers 503 `limits_unavailable`.",
    )
    hold_ttl_seconds: float = Field(
        DEFAULT_HOLD_TTL_S,
        gt=0,
        description="How long a budget hold outlives a request that never settled it (its process died); keep it "
        "above the longest route timeout.",
    )


class Rates(Section):
    """Token buckets refilled continuously: N a minute is a bucket of N, refilled at N/60 a second."""

    requests_per_minute: int | None = Field(None, gt=0, description="Requests a minute; unset is unlimited.")
    tokens_per_minute: int | None = Field(
        None,
        gt=0,
        description="Tokens a minute (a request reserves its prompt plus `max_tokens`, settled on its usage); "
        "unset is unlimited.",
    )


class Budget(Section):
    """Spend allowed per UTC day and month, in USD."""

    usd_per_day: float | None = Field(None, gt=0, description="USD a UTC day; unset is unlimited.")
    usd_per_month: float | None = Field(None, gt=0, description="USD a UTC month; unset is unlimited.")


class TenantLimits(Section):
    """The limits that apply to one tenant and to each of its keys."""

    per_tenant: Rates = Field(Rates(), description="One bucket pair per tenant.")
    per_key: Rates = Field(Rates(), description="One bucket pair per API key.")
    budget: Budget = Field(Budget(), description="Spend per tenant, per UTC day and month.")


class TenantSettings(TenantLimits):
    """One tenant's overrides of `limits`, and the models it may use."""

    models: list[NonEmpty] | None = Field(
        None,
        min_length=1,
        description="The model names and aliases the tenant may ask for (by name, through `auto`'s routing, or in a "
        "`models` fallback list): 403 `model_not_allowed` otherwise; unset: any model.",
    )
