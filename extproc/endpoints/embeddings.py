"""`POST /v1/embeddings`: OpenAI's embeddings schema, routed like chat."""

from __future__ import annotations

from typing import Any

from ..client_formats import OPENAI
from ..usage import Usage, usage_from_openai
from ..errors import shown
from ..validation import check_depth, invalid, require_model
from .base import ParsedRequest

_ENCODINGS = ("float", "base64")
# OpenAI's limit on the number of inputs in one request.
_MAX_INPUTS = 2048


class Embeddings:
    """The OpenAI embeddings endpoint."""

    method = "POST"
    path = "/v1/embeddings"
    kind = "embeddings"
    upstream_path = "/v1/embeddings"
    client_format = OPENAI

    def to_canonical(self, body: Any) -> Any:
        """Already canonical."""
        return body

    def parse(self, body: Any) -> ParsedRequest:
        """Check the model, the input and the options the gateway can judge."""
        model = require_model(body)
        check_depth(body)
        inputs = body.get("input")
        if not _valid_input(inputs):
            raise invalid(
                "`input` is required: a non-empty string, a list of strings, a list of token ids, "
                "or a list of token-id lists.",
                "input",
            )
        if isinstance(inputs, list) and len(inputs) > _MAX_INPUTS:
            raise invalid(f"`input` may hold at most {_MAX_INPUTS} items; got {len(inputs)}.", "input")
        encoding = body.get("encoding_format")
        if encoding is not None and encoding not in _ENCODINGS:
            raise invalid(f"`encoding_format` must be one of {', '.join(_ENCODINGS)}; got {shown(encoding)}.", "encoding_format")
        dimensions = body.get("dimensions")
        if dimensions is not None and (not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1):
            raise invalid("`dimensions` must be a positive integer.", "dimensions")
        if body.get("stream"):
            raise invalid("Embeddings cannot be streamed.", "stream")
        return ParsedRequest(model=model)

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Nothing to add."""
        return False

    def usage(self, payload: dict[str, Any]) -> Usage | None:
        """Usage of an embeddings answer (prompt tokens only)."""
        return usage_from_openai(payload)


def _valid_input(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(item, str) for item in value):
        return True
    if all(_is_token(item) for item in value):
        return True
    return all(isinstance(item, list) and item and all(_is_token(t) for t in item) for item in value)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
