"""The prompt registry's settings, on the virtual host (extproc/prompts/settings.py reads them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from extproc.config.schema.base import NonEmpty, Section

PromptStoreKind = Literal["memory", "sqlite", "redis", "postgres"]


class Prompts(Section):
    """Where versioned prompts live and how much one request's prompt may render to (docs/prompts-and-evals.md)."""

    store: PromptStoreKind | None = Field(
        None,
        description="`sqlite`, `memory`, `redis` or `postgres`; unset: the tenancy store's kind (`store.kind`), "
        "so prompts live where the deployment keeps its other state (ADR 0009).",
    )
    path: NonEmpty | None = Field(
        None, description="The SQLite file of `store: sqlite`; unset: `prompts.sqlite3` next to `store.path`."
    )
    redis_url: NonEmpty | None = Field(
        None, description="The Redis of `store: redis` (it must persist: AOF or RDB); unset: `store.redis_url`."
    )
    postgres_url: NonEmpty | None = Field(
        None,
        description="The PostgreSQL of `store: postgres`; the `LLM_GATEWAY_POSTGRES_URL` environment variable wins.",
    )
    max_rendered_bytes: int = Field(
        1_048_576,
        gt=0,
        description="The most one request's prompt may render to; a render is also bounded by what Envoy's body cap "
        "(the buffer filter's `max_request_bytes`) leaves after the request's own body (400 `prompt_too_large`).",
    )
    head_ttl_seconds: float = Field(
        1.0,
        ge=0,
        description="How long a service process keeps a prompt's labels: a label moved on any replica is used "
        "everywhere within this bound (0: read the store on every request).",
    )
