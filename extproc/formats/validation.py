"""Field checks shared by every endpoint schema: one wording for every 400.

Each check raises `GatewayError(400, ..., code="invalid_request")` naming the
field in `param`, so clients (and their SDKs) can point at what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from extproc.errors import GatewayError, clipped, shown

# How deeply a request body may nest arrays and objects (the body itself is level 1).
# The gateway re-encodes bodies with orjson, which refuses more than 254 levels, and
# LiteLLM's translations add a few levels and recurse in Python: without this bound a
# body nested 255 to 1024 levels deep (orjson decodes up to 1024) failed as a 500.
MAX_JSON_DEPTH = 128
# orjson's own encoding limit, which `check_depth` uses to count levels in C.
_ORJSON_MAX_DEPTH = 254


def invalid(message: str, param: str | None) -> GatewayError:
    """The 400 for a request field."""
    return GatewayError(400, message, code="invalid_request", param=param)


def check_int(holder: Mapping[str, Any], key: str, low: int, high: int | None = None, name: str | None = None) -> None:
    """`holder[key]`, when present, is an integer in [low, high]; `name` is the field's path in messages."""
    value = holder.get(key)
    name = name or key
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(f"`{name}` must be an integer; got {shown(value)}.", name)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(f"`{name}` must be {bound}; got {value}.", name)


def check_number(holder: Mapping[str, Any], key: str, low: float, high: float) -> None:
    """`holder[key]`, when present, is a number in [low, high]."""
    value = holder.get(key)
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise invalid(f"`{key}` must be a number; got {shown(value)}.", key)
    if not low <= value <= high:
        raise invalid(f"`{key}` must be between {low:g} and {high:g}; got {value}.", key)


def require_model(body: Any) -> str:
    """The body is a JSON object with a non-empty string `model`; returns it."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("`model` is required and must be a non-empty string.", "model")
    return model


def check_depth(body: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """The decoded body nests arrays and objects at most `limit` levels deep; `param` names the culprit."""
    if _nests_at_most(body, limit):
        return
    param = None
    if isinstance(body, dict):
        param = next((str(key) for key, value in body.items() if not _nests_at_most(value, limit - 1)), None)
    where = f"`{clipped(param)}`" if param else "The request body"
    raise invalid(f"{where} is nested too deeply: arrays and objects may nest at most {limit} levels.", param)


def _nests_at_most(value: Any, levels: int) -> bool:
    """True when `value` nests at most `levels` arrays/objects deep.

    orjson counts in C: wrapped in (254 - levels) lists, the value encodes only
    if it nests no more than `levels` itself. Walking a 4 MiB body in Python
    takes ~10x longer.
    """
    wrapped = value
    for _ in range(_ORJSON_MAX_DEPTH - levels):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError as error:
        return "recursion" not in str(error).lower()
    return True
