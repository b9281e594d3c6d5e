"""The LLM Proxy seed's own API, as plain functions over plain values.

The seed's clients call `POST /api/query`, `POST /v1/gateway/query`, `GET /api/status` and
`POST /v1/gateway/cost-estimate` with the seed's bodies. This package turns those bodies into
the gateway's canonical OpenAI chat body (so auth, routing, redaction, cache, limits and cost
all apply as to any chat call) and turns the gateway's answer back into the seed's shapes.
The contract is docs/seed-api.md.

- `errors`: the seed's error JSON, and `SeedApiError` that carries it.
- `models`: provider names (openai, claude, gemini, mistral...) to the configured models.
- `requests`: parsing and validating the seed's bodies into a `SeedQuery`.
- `responses`: the seed's answer, dry-run, cost-estimate and status shapes.
"""

from extproc.seed_api.errors import SeedApiError, seed_error
from extproc.seed_api.models import ConfiguredModel, ModelChoices
from extproc.seed_api.requests import TASK_TYPES, SeedQuery, is_seed_body, parse_cost_estimate, parse_query
from extproc.seed_api.responses import dry_run_response, estimate_response, query_response, status_response

__all__ = [
    "TASK_TYPES",
    "ConfiguredModel",
    "ModelChoices",
    "SeedApiError",
    "SeedQuery",
    "dry_run_response",
    "estimate_response",
    "is_seed_body",
    "parse_cost_estimate",
    "parse_query",
    "query_response",
    "seed_error",
    "status_response",
]
