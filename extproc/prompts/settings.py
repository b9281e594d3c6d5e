"""The prompt registry's settings: the `prompts` block of the virtual host's `llm_gateway` metadata.

    llm_gateway:
      prompts:
        store: postgres                   # memory | sqlite | redis | postgres; default: the tenancy store's kind
        path: var/prompts.sqlite3         # sqlite: default `prompts.sqlite3` next to store.path
        redis_url: redis://host:6379/0    # redis: default the tenancy store's (store.redis_url)
        postgres_url: postgresql://...    # postgres: or LLM_GATEWAY_POSTGRES_URL
        max_rendered_bytes: 1048576       # the most one rendered prompt may add to a request
        head_ttl_seconds: 1               # how long a service process keeps a prompt's labels

Without the block, prompts live where the deployment keeps its other state:
a SQLite file next to the limits file on one host, the same Redis for
replicas (docs/adr/0009-where-prompts-are-stored.md). A render is bounded by
`max_rendered_bytes` and by what Envoy's body cap (the buffer filter's
`max_request_bytes`) leaves after the request's own body.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extproc.cache.policy import POSTGRES_URL_ENV
from extproc.config.envoy_yaml import max_request_bytes
from extproc.config.validation import gateway_settings
from extproc.prompts.resolver import DEFAULT_HEAD_TTL_S, DEFAULT_MAX_RENDERED_BYTES
from extproc.prompts.store import STORE_KINDS, PromptStore, open_prompt_store
from extproc.tenancy.settings import Settings, SettingsError

SQLITE_FILE = "prompts.sqlite3"
# Envoy's body cap when the configuration sets none (the shipped envoy.yaml's buffer filter).
DEFAULT_BODY_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PromptSettings:
    """Where prompts live and how much a request's prompt may render to."""

    store: str = "memory"
    path: str = SQLITE_FILE
    redis_url: str | None = None
    postgres_url: str | None = None
    max_rendered_bytes: int = DEFAULT_MAX_RENDERED_BYTES
    head_ttl_seconds: float = DEFAULT_HEAD_TTL_S
    # Envoy's request body cap: a request plus its rendered prompt stays within it.
    body_limit: int = DEFAULT_BODY_LIMIT

    def open_store(self) -> PromptStore:
        """The store these settings name (it connects on first use)."""
        return open_prompt_store(self.store, sqlite_path=self.path, redis_url=self.redis_url, postgres_url=self.postgres_url)


def load_prompt_settings(config: dict[str, Any], tenancy: Settings) -> PromptSettings:
    """The `prompts` block of a parsed envoy.yaml (validated by the schema, extproc/config/schema/prompts.py),
    its defaults taken from the tenancy store; ConfigError (or SettingsError) says what is wrong."""
    section = gateway_settings(config).virtual_host.prompts
    store = section.store or tenancy.store
    if store not in STORE_KINDS:
        raise SettingsError(f"prompts.store must be one of {', '.join(STORE_KINDS)}; got {store!r}")
    redis_url = section.redis_url or tenancy.redis_url
    if store == "redis" and not redis_url:
        raise SettingsError("prompts.store is redis: set prompts.redis_url (or the tenancy store's store.redis_url)")
    postgres_url = os.environ.get(POSTGRES_URL_ENV) or section.postgres_url
    if store == "postgres" and not postgres_url:
        raise SettingsError(f"prompts.store is postgres: set prompts.postgres_url or {POSTGRES_URL_ENV}")
    return PromptSettings(
        store=store,
        path=section.path or str(Path(tenancy.store_path).parent / SQLITE_FILE),
        redis_url=redis_url,
        postgres_url=postgres_url,
        max_rendered_bytes=section.max_rendered_bytes,
        head_ttl_seconds=section.head_ttl_seconds,
        body_limit=max_request_bytes(config) or DEFAULT_BODY_LIMIT,
    )
