"""Cache settings: gateway-wide on the virtual host, field by field on a model route (extproc/cache reads them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from extproc.config.schema.base import Section, YamlOff

CacheMode = Literal["off", "exact", "semantic"]
Comparison = Literal["embedding", "exact"]
Guard = Literal["number", "negation", "near_miss", "unit", "entity", "language", "task"]
SemanticStore = Literal["memory", "pgvector"]
ALL_GUARDS: list[Guard] = ["number", "negation", "near_miss", "unit", "entity", "language", "task"]


class RouteCache(Section):
    """A cache policy. On a model route, each field it sets replaces the virtual host's."""

    mode: Annotated[CacheMode, YamlOff] = Field(
        "off",
        description="`exact`: a tenant's repeated request on a route is answered from the cache. `semantic`: "
        "exact first, then by meaning. `off`.",
    )
    ttl_seconds: int = Field(3600, gt=0, description="How long an answer is kept.")
    max_temperature: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Requests with a higher temperature are not cached (their answers are meant to vary); an unset "
        "temperature counts as 1.0, OpenAI's default.",
    )
    threshold: float | None = Field(
        None,
        ge=0.5,
        le=1,
        description="`semantic`, fixed instead of learned: the cosine similarity a hit needs; no exploration, no "
        "bound. Not with `max_error_rate` in the same section; a route that sets one drops the other it inherited.",
    )
    max_error_rate: float = Field(
        0.01,
        gt=0,
        le=0.5,
        description="`semantic`, learned (the default): the expected share of a tenant's requests on the route that "
        "may get a wrong cached answer.",
    )
    max_exploration_rate: float = Field(
        0.25,
        ge=0,
        le=1,
        description="`semantic`, learned: at most this share of lookups is explored (0 never learns, so never hits "
        "by meaning).",
    )
    compare: Comparison = Field(
        "embedding",
        description="`semantic`, learned: how an exploration is labelled. `embedding`: the two answers' embeddings "
        "are at least `answer_similarity` alike. `exact`: the texts are equal once case, spacing and closing "
        "punctuation are ignored.",
    )
    answer_similarity: float = Field(
        0.9, ge=0.5, le=1, description="`compare: embedding`: the answers' cosine similarity that counts as the same."
    )
    guards: list[Guard] = Field(
        ALL_GUARDS, description="`semantic`: the hard refusals in front of any similarity (docs: Cache, Semantic)."
    )

    @model_validator(mode="after")
    def _one_way_to_decide_a_hit(self) -> RouteCache:
        if self.is_set("threshold") and self.is_set("max_error_rate"):
            raise ValueError(
                "sets both threshold and max_error_rate: they are two ways to decide a semantic hit. Keep "
                "max_error_rate to learn per entry within that error rate, or threshold for a fixed similarity"
            )
        return self


class GatewayCache(RouteCache):
    """The gateway-wide cache policy, and what only the whole gateway can set."""

    max_entries: int = Field(
        10_000, gt=0, description="The in-process stores' size (least recently used, or oldest, goes first)."
    )
    semantic_store: SemanticStore = Field(
        "memory",
        description="Where semantic entries live: `memory` (each process) or `pgvector`, with `postgres_url`.",
    )
    postgres_url: str | None = Field(
        None,
        description="PostgreSQL with pgvector, for `semantic_store: pgvector`; `LLM_GATEWAY_POSTGRES_URL` wins.",
    )
