"""`POST /v1/embeddings`: OpenAI's embeddings schema, routed like chat.

Envoy buffers the whole answer for the service, up to the route's
`request_body_buffer_limit`. An answer's size is known in advance (inputs x
dimensions x bytes per value), so a request whose answer could not fit is
refused with a 400 before the provider is paid, rather than failing with a
502 after. A large answer's usage is read from its tail: parsing 60 MB of
floats would hold the service's event loop for half a second.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from extproc.cost.usage import Usage, usage_from_openai
from extproc.endpoints.base import OpenAIEndpoint, ParsedRequest
from extproc.errors import GatewayError, shown
from extproc.formats.validation import check_depth, invalid, require_model

if TYPE_CHECKING:
    from extproc.config.catalog import ModelRoute

_ENCODINGS = ("float", "base64")
# OpenAI's limit on the number of inputs in one request.
_MAX_INPUTS = 2048
# Bytes per value of an answer, at most: a float32 printed in full with its comma
# (`-0.029146745800971985,`), or 4 bytes in base64.
_FLOAT_BYTES = 22
_BASE64_BYTES = 16 / 3
# Per vector (`{"object":"embedding","index":2047,"embedding":...},`) and per answer (model, usage).
_VECTOR_OVERHEAD = 64
_ANSWER_OVERHEAD = 1024
# Where an answer's usage object sits: its last bytes.
_TAIL_BYTES = 4096


class Embeddings(OpenAIEndpoint):
    """The OpenAI embeddings endpoint."""

    path = "/v1/embeddings"
    kind = "embeddings"
    upstream_path = "/v1/embeddings"

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



def answer_bytes(inputs: int, dimensions: int, encoding: str) -> int:
    """The most an answer of `inputs` vectors of `dimensions` values may take, in bytes."""
    per_value = _BASE64_BYTES if encoding == "base64" else _FLOAT_BYTES
    return int(inputs * (dimensions * per_value + _VECTOR_OVERHEAD) + _ANSWER_OVERHEAD)


def tail_usage(body: bytes) -> Usage | None:
    """The usage of an OpenAI embeddings answer, read from its last bytes (None if not there)."""
    tail = body[-_TAIL_BYTES:].decode("utf-8", "replace")
    key = tail.rfind('"usage"')
    colon = tail.find(":", key) if key >= 0 else -1
    if colon < 0:
        return None
    value = tail[colon + 1 :].lstrip()
    try:
        usage, _ = json.JSONDecoder().raw_decode(value)
    except ValueError:
        return None
    return usage_from_openai({"usage": usage}) if isinstance(usage, dict) else None


def check_answer_fits(body: dict[str, Any], route: ModelRoute) -> None:
    """Refuse (400 `response_too_large`) a request whose answer could exceed the route's buffer."""
    largest = _default_dimensions(route.endpoints[0].model) if route.endpoints else None
    asked = body.get("dimensions")
    if asked and largest and asked > largest:
        raise invalid(f"`dimensions` may be at most {largest} for this model; got {asked}.", "dimensions")
    limit, dimensions = route.buffer_bytes, asked or largest
    if not limit or not dimensions:
        return  # size unknown: Envoy's 502 upstream_response_too_large is the backstop
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) and not all(_is_token(t) for t in inputs) else 1
    encoding = body.get("encoding_format") or "float"
    size = answer_bytes(count, dimensions, encoding)
    if size <= limit:
        return
    fits = (limit - _ANSWER_OVERHEAD) // (answer_bytes(1, dimensions, encoding) - _ANSWER_OVERHEAD)
    hint = "; or ask for encoding_format: base64 (a quarter of the size)" if encoding != "base64" else ""
    if fits < 1:
        raise invalid(f"`dimensions` is too large: one vector of {dimensions} would not fit the gateway's buffer{hint}.", "dimensions")
    raise GatewayError(
        400,
        f"The answer to {count} inputs of {dimensions} dimensions as {encoding} may take {size / 2**20:.0f} MiB, more "
        f"than the gateway buffers for this model ({limit / 2**20:.0f} MiB): send at most {fits} inputs per request{hint}.",
        code="response_too_large",
        param="input",
    )


@lru_cache(maxsize=64)
def _default_dimensions(model: str) -> int | None:
    """The vector size LiteLLM's cost map gives the model (`output_vector_size`), if any."""
    from extproc.translation import model_map  # noqa: PLC0415 - LiteLLM (seconds to import) loads with the service

    return model_map.vector_size(model)


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
