"""Field checks shared by every endpoint schema: one wording for every 400.

Each check raises `GatewayError(400, ..., code="invalid_request")` naming the
field in `param`, so clients (and their SDKs) can point at what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import GatewayError


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
        raise invalid(f"`{name}` must be an integer; got {value!r}.", name)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(f"`{name}` must be {bound}; got {value}.", name)


def check_number(holder: Mapping[str, Any], key: str, low: float, high: float) -> None:
    """`holder[key]`, when present, is a number in [low, high]."""
    value = holder.get(key)
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise invalid(f"`{key}` must be a number; got {value!r}.", key)
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
