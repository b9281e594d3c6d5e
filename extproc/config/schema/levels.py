"""The `llm_gateway` metadata of each place in envoy.yaml the service reads.

    virtual host   route_config.virtual_hosts[].metadata.filter_metadata.llm_gateway   VirtualHostSettings
    model route    virtual_hosts[].routes[].metadata...llm_gateway                     ModelRouteSettings
    lane route     the same, with `lane: true`                                          LaneRouteSettings
    endpoint       clusters[].load_assignment.endpoints[].lb_endpoints[].metadata...    EndpointSettings

To add a setting: add a field (with its `description`) to the level's model
here, or to a section model it holds (tenancy.py, cache.py, privacy.py; a new
section gets a module of its own), then run `scripts/make_config_reference.py`
to regenerate docs/configuration.md's reference and envoy/llm-gateway.schema.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from extproc.config.schema.base import NonEmpty, Section
from extproc.config.schema.cache import GatewayCache, RouteCache
from extproc.config.schema.privacy import Privacy
from extproc.config.schema.prompts import Prompts
from extproc.config.schema.tenancy import Auth, Rates, Store, TenantLimits, TenantSettings

RouteKind = Literal["chat", "embeddings"]


class GatewayRouting(Section):
    """Gateway-wide routing settings."""

    max_fallback_models: int = Field(
        5,
        ge=1,
        le=10,
        description="The most models a client's `models` fallback list may name (each is tried in order); at most the "
        "slot clusters `render` generates.",
    )


class VirtualHostSettings(Section):
    """Gateway-wide settings, on the virtual host that serves the models (`llm` in the shipped file)."""

    auth: Auth = Field(Auth(), description="Who may call.")
    store: Store = Field(Store(), description="Where keys, buckets, spend and holds live.")
    limits: TenantLimits = Field(TenantLimits(), description="Every tenant's limits and budget, unless `tenants` names it.")
    tenants: dict[str, TenantSettings] = Field(
        {},
        description="Per tenant name: the same three sections, overriding `limits` field by field for that tenant, "
        "and the `models` it may use."
    )
    cache: GatewayCache = Field(GatewayCache(), description="The response cache.")
    privacy: Privacy = Field(Privacy(), description="Redaction and the output policy.")
    routing: GatewayRouting = Field(GatewayRouting(), description="What every routing policy shares.")
    prompts: Prompts = Field(Prompts(), description="The prompt registry (requests that name a prompt, `/v1/gateway/prompts`).")


class ModelRouteSettings(Section):
    """A model clients may ask for. The route must match header `x-gateway-model` exactly equal to `model`."""

    model: NonEmpty = Field(description="The name clients use; a route without it serves nothing.")
    aliases: list[NonEmpty] = Field([], description="Other names for it (unique across models).")
    description: str = Field("", description="Shown by `GET /v1/models`.")
    kind: RouteKind = Field(
        "chat",
        description="`embeddings`: `/v1/embeddings` only reaches such routes, and chat endpoints refuse them "
        "(400 `wrong_model_kind`).",
    )
    limits: Rates | None = Field(None, description="Per tenant, on this model (on top of the gateway-wide limits).")
    cache: RouteCache | None = Field(None, description="This model's cache policy: each field set replaces the virtual host's.")
    privacy: Privacy | None = Field(
        None, description="This model's privacy policy: `request`, `response` and `log_text` each replace the virtual host's."
    )
    routing: dict[str, Any] | None = Field(
        None,
        description="Makes this a virtual model (such as `auto`): its policy (`default`, `rules`, `conversation`) picks "
        "a real model per request; the route sends nowhere. Its fields are checked by the routing policy loader; see "
        "\"Routing: virtual models, rules, splits and the classifier\".",
    )
    fallback_max_cost_usd: float | None = Field(
        None,
        ge=0,
        description="A fallback level after the first is tried only while the request's estimated maximum cost "
        "there is at most this (USD).",
    )


class FallbackListRouteSettings(Section):
    """The route `render` generates for clients' `models` fallback lists (never written by hand)."""

    fallback_list: Literal[True] = Field(description="Marks the generated fallback-list route.")


class LaneRouteSettings(Section):
    """A fail-open lane (`/NAME/v1/...`): see docs/configuration.md, "A fail-open lane"."""

    lane: Literal[True] = Field(description="Marks the route as a lane.")


PRICE_FIELDS = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")


class EndpointSettings(Section):
    """One provider endpoint of a cluster (each `lb_endpoints` entry)."""

    model: NonEmpty = Field(
        description="The LiteLLM model string, `provider/model`. For example `openai/gpt-4o`, `azure/DEPLOYMENT`, "
        "`anthropic/claude-haiku-4-5`, `gemini/gemini-2.5-flash`, `hosted_vllm/...` (any OpenAI-compatible server). "
        "The provider picks the wire format; the rest is sent upstream; the whole string prices the call."
    )
    provider: NonEmpty | None = Field(None, description="Overrides the provider taken from `model`.")
    api_base: NonEmpty | None = Field(
        None,
        description="The provider's base URL, as LiteLLM takes it (`https://api.openai.com/v1`, "
        "`https://api.anthropic.com`, `http://vllm:8000/v1`). Its host becomes the `Host` header.",
    )
    api_version: NonEmpty | None = Field(None, description="Azure OpenAI's `api-version`.")
    api_key_env: NonEmpty | None = Field(
        None, description="Environment variable of the service holding the API key (`check` and `up` warn when unset)."
    )
    api_key_file: NonEmpty | None = Field(None, description="File holding the API key (read once).")
    input_cost_per_token: float | None = Field(
        None, ge=0, description="USD per prompt token, replacing LiteLLM's cost map (self-hosted models)."
    )
    output_cost_per_token: float | None = Field(None, ge=0, description="USD per completion token, with `input_cost_per_token`.")
    cache_read_input_token_cost: float | None = Field(
        None, ge=0, description="USD per cached prompt token (default: `input_cost_per_token`)."
    )
    forward_headers: list[NonEmpty] = Field(
        [],
        description="Client headers this endpoint may get besides the common ones: names, or prefixes ending in `*`.",
    )
    fallback_model: NonEmpty | None = Field(
        None,
        description="Written by `render` on the fallback-list slot clusters' copies of each endpoint: the model route "
        "it serves in a client's `models` list (never set by hand).",
    )

    @field_validator("forward_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        if any(not name.strip("*").strip() for name in names):
            raise ValueError("holds an empty header name")
        return [name.strip().lower() for name in names]

    @model_validator(mode="after")
    def _both_prices(self) -> EndpointSettings:
        named = [key for key in PRICE_FIELDS if self.is_set(key)]
        if named and not (self.is_set("input_cost_per_token") and self.is_set("output_cost_per_token")):
            raise ValueError(
                "sets prices: both input_cost_per_token and output_cost_per_token are needed "
                f"(it sets {', '.join(named)})"
            )
        return self
