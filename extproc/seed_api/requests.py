"""The seed's request bodies, validated, as a `SeedQuery` that knows its canonical chat body.

`POST /api/query` and `POST /v1/gateway/query` take
`{query, model?, model_version?, task_type?, max_cost_usd?, dry_run?, request_id?, tenant?, max_tokens?}`;
`POST /v1/gateway/cost-estimate` in the seed's shape takes
`{query, model?, model_version?, expected_response_tokens?, task_type?, request_id?, tenant?}`.
A wrong type, a missing or empty `query`, an unknown `task_type` or provider is a 400 in the
seed's error JSON, naming the field. Fields the seed layer does not know are ignored, as the
seed did, so its clients' extra fields do not break them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from extproc.errors import shown
from extproc.seed_api.errors import SeedApiError
from extproc.seed_api.models import ModelChoices

TASK_TYPES = (
    "text_generation", "summarization", "sentiment_analysis", "question_answering", "code", "math", "translation",
)  # fmt: skip
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TENANT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Past any model's output limit; a bigger number is a mistake, not a bound.
MAX_RESPONSE_TOKENS = 1_000_000


@dataclass(frozen=True, slots=True)
class SeedQuery:
    """One validated seed request: what was asked, and of which configured model."""

    query: str
    # The configured model (or `auto`) the provider name or model name resolved to.
    model: str
    # The provider name the body gave as `model` (openai, claude...), if it gave one.
    provider: str | None = None
    model_version: str | None = None
    task_type: str | None = None
    max_cost_usd: float | None = None
    dry_run: bool = False
    request_id: str | None = None
    tenant: str | None = None
    # The answer's bound: `max_tokens` on a query, `expected_response_tokens` on an estimate.
    max_tokens: int | None = None

    def chat_body(self) -> dict[str, Any]:
        """The canonical OpenAI chat body; the seed's options ride in the gateway's `x_gateway` extension."""
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": self.query}]}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        options: dict[str, Any] = {}
        if self.dry_run:
            options["dry_run"] = True
        if self.max_cost_usd is not None:
            options["max_cost_usd"] = self.max_cost_usd
        if self.task_type is not None:
            options["task"] = self.task_type
        if options:
            body["x_gateway"] = options
        return body

    def check_tenant(self, key_tenant: str) -> None:
        """Refuse (403) a body whose `tenant` is not the key's: the tenant comes from the key only."""
        if self.tenant is not None and self.tenant != key_tenant:
            raise SeedApiError(
                403,
                "The body's `tenant` is not this API key's tenant. The tenant comes from the key; "
                "leave `tenant` out, or use a key of that tenant.",
                "tenant_mismatch",
                "tenant",
                self.request_id,
            )


def is_seed_body(body: Any) -> bool:
    """True for a cost-estimate body in the seed's shape (`query`, no `messages`), not a chat body."""
    return isinstance(body, dict) and "query" in body and "messages" not in body


def parse_query(body: bytes | Any, models: ModelChoices) -> SeedQuery:
    """A `/api/query` or `/v1/gateway/query` body, validated; SeedApiError (400) names what is wrong."""
    document = _document(body)
    request_id = _request_id(document)
    try:
        return _query(document, models, request_id, tokens_field="max_tokens", dry_run=_flag(document, "dry_run"),
                      max_cost=_positive_number(document, "max_cost_usd"))  # fmt: skip
    except SeedApiError as error:
        error.request_id = request_id
        raise


def parse_cost_estimate(body: bytes | Any, models: ModelChoices) -> SeedQuery:
    """A `/v1/gateway/cost-estimate` body in the seed's shape, validated; always a dry run."""
    document = _document(body)
    request_id = _request_id(document)
    try:
        return _query(document, models, request_id, tokens_field="expected_response_tokens", dry_run=True, max_cost=None)
    except SeedApiError as error:
        error.request_id = request_id
        raise


def _query(
    document: dict[str, Any], models: ModelChoices, request_id: str | None, tokens_field: str, dry_run: bool,
    max_cost: float | None,
) -> SeedQuery:  # fmt: skip
    query = document.get("query")
    if query is None:
        raise SeedApiError(400, "`query` is required: the text to send to the model.", "missing_field", "query")
    if not isinstance(query, str):
        raise _wrong_type("query", "a string", query)
    if not query.strip():
        raise SeedApiError(400, "`query` is empty; send the text to ask.", "invalid_value", "query")
    model = _optional_string(document, "model")
    version = _optional_string(document, "model_version")
    task_type = _optional_string(document, "task_type")
    if task_type is not None and task_type not in TASK_TYPES:
        raise SeedApiError(
            400, f"Unknown `task_type` {shown(task_type)}; use one of: {', '.join(TASK_TYPES)}.",
            "unknown_task_type", "task_type",
        )  # fmt: skip
    tenant = _optional_string(document, "tenant")
    if tenant is not None and not _TENANT.match(tenant):
        raise SeedApiError(400, "`tenant` must be 1-64 of A-Z a-z 0-9 . _ -.", "invalid_value", "tenant")
    max_tokens = _token_count(document, tokens_field)
    name, provider = models.resolve(model, version)
    return SeedQuery(
        query=query, model=name, provider=provider, model_version=version, task_type=task_type,
        max_cost_usd=max_cost, dry_run=dry_run, request_id=request_id, tenant=tenant, max_tokens=max_tokens,
    )  # fmt: skip


def _document(body: bytes | Any) -> dict[str, Any]:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SeedApiError(400, "The body is not valid JSON.", "invalid_json") from None
    if not isinstance(body, dict):
        raise SeedApiError(400, "The body must be a JSON object.", "invalid_type")
    return body


def _request_id(document: dict[str, Any]) -> str | None:
    value = document.get("request_id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type("request_id", "a string", value)
    if not _REQUEST_ID.match(value):
        raise SeedApiError(
            400, "`request_id` must be 1-128 of A-Z a-z 0-9 . _ : -.", "invalid_value", "request_id"
        )
    return value


def _optional_string(document: dict[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _wrong_type(field, "a non-empty string", value)
    return value.strip()


def _flag(document: dict[str, Any], field: str) -> bool:
    value = document.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong_type(field, "true or false", value)
    return value


def _positive_number(document: dict[str, Any], field: str) -> float | None:
    value = document.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(field, "a number (USD)", value)
    if not math.isfinite(value) or value <= 0:
        raise SeedApiError(400, f"`{field}` must be above 0; got {shown(value)}.", "invalid_value", field)
    return float(value)


def _token_count(document: dict[str, Any], field: str) -> int | None:
    value = document.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(field, "a whole number of tokens", value)
    if not 1 <= value <= MAX_RESPONSE_TOKENS:
        raise SeedApiError(
            400, f"`{field}` must be from 1 to {MAX_RESPONSE_TOKENS}; got {value}.", "invalid_value", field
        )
    return value


def _wrong_type(field: str, wanted: str, value: Any) -> SeedApiError:
    return SeedApiError(400, f"`{field}` must be {wanted}; got {shown(value)}.", "invalid_type", field)
