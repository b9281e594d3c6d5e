"""`POST /api/query` and `POST /v1/gateway/query`: the LLM Proxy seed's query, as a chat completion.

The seed's body becomes the canonical chat body (`seed_api.requests`), so the whole pipeline
applies: auth, routing, redaction, cache, limits, cost. Its options (`dry_run`, `max_cost_usd`)
and the tenant check are the seed stage's (`stages/seed_api.py`), which also writes the answer
back in the seed's shape. Errors are in the seed's error JSON (`formats/seed.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from extproc.endpoints.base import ParsedRequest
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.errors import GatewayError
from extproc.formats import ClientFormat
from extproc.formats.seed import SEED
from extproc.seed_api import ModelChoices, SeedApiError, SeedQuery, parse_query


class SeedQueryEndpoint:
    """One of the seed's two query paths."""

    method = "POST"
    kind = "chat"
    upstream_path = "/v1/chat/completions"
    client_format: ClientFormat = SEED

    def __init__(self, path: str, models: ModelChoices) -> None:
        self.path = path
        self._models = models
        self._chat = ChatCompletions()

    def to_canonical(self, body: Any) -> Any:
        """The seed's query to a chat body (400 or in the seed's words when it is wrong)."""
        return canonical_body(lambda: parse_query(body, self._models))

    def parse(self, body: Any) -> ParsedRequest:
        """Read the chat body the query became."""
        return self._chat.parse(body)

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Nothing to add: the query never streams."""
        return False


def canonical_body(parse: Callable[[], SeedQuery]) -> dict[str, Any]:
    """The chat body of a seed body (`parse` validates it); the seed's options are the seed stage's to apply."""
    try:
        query = parse()
    except SeedApiError as error:
        raise as_gateway_error(error) from None
    body = query.chat_body()
    body.pop("x_gateway", None)
    return body


def as_gateway_error(error: SeedApiError) -> GatewayError:
    """The seed layer's refusal as the gateway's error (the client format writes it in the seed's JSON)."""
    return GatewayError(error.status, error.message, code=error.code, param=error.field)
