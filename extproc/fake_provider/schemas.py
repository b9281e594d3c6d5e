"""Deterministic example values for a JSON schema (tool arguments, structured output).

Objects get each `required` property; `$ref`s into `$defs`/`definitions` are
followed (Pydantic's schemas use them); Gemini's upper-case type names are accepted.
"""

from __future__ import annotations

from typing import Any

# Strings for the common `format`s, so validators that check formats accept them.
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "fake@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}

_MAX_DEPTH = 8


def example(schema: Any, name: str = "value") -> Any:
    """example is a deterministic value that `schema` accepts."""
    return _value(schema if isinstance(schema, dict) else {}, name, schema if isinstance(schema, dict) else {}, 0)


def example_object(schema: Any) -> dict[str, Any]:
    """example_object is like `example` but always returns an object."""
    value = example(schema)
    return value if isinstance(value, dict) else {}


def _value(schema: dict[str, Any], name: str, root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if not (isinstance(o, dict) and _type(o) == "null")]
            return _value(non_null[0] if non_null else options[0], name, root, depth + 1)
    kind = _type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {key: _value(properties.get(key) or {}, key, root, depth + 1) for key in required}
    if kind == "array":
        if schema.get("maxItems") == 0:
            return []
        count = max(int(schema.get("minItems") or 1), 1)
        return [_value(schema.get("items") or {}, name, root, depth + 1)] * count
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, dict) else None
    return target if isinstance(target, dict) else {}


def _type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k.lower() != "null"), kind[0] if kind else None)
    return kind.lower() if isinstance(kind, str) else None


def _number(schema: dict[str, Any], default: float) -> float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, (int, float)) and low > default:
        return low
    if isinstance(high, (int, float)) and high < default:
        return high
    return default


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format", "")).lower(), f"fake {name}")
    low = schema.get("minLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    high = schema.get("maxLength")
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text
