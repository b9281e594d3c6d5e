"""The schema's verdicts in an operator's words: where, which key, what it takes, and "did you mean".

`describe` says what a field takes ("a positive whole number", "one of off,
exact, semantic"); the error messages and the generated reference both use it,
so the two say the same thing.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError

from extproc.errors import shown


def sentences(error: ValidationError, level: type[BaseModel], where: str) -> list[str]:
    """One sentence per mistake pydantic found in a `level` section at `where` (a route, a virtual host...)."""
    return [_sentence(item, level, where) for item in error.errors(include_url=False)]


def _sentence(item: Any, level: type[BaseModel], where: str) -> str:
    loc: tuple[str | int, ...] = tuple(item["loc"])
    kind = item["type"]
    if kind == "extra_forbidden":
        parent = _annotation_at(level, loc[:-1])[0]
        allowed = list(parent.model_fields) if _is_section(parent) else []
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{where}: {dotted(loc[:-1]) or 'llm_gateway'} does not know {key}{hint}; it takes {', '.join(allowed)}"
    if kind == "missing":
        parent = _annotation_at(level, loc[:-1])[0]
        field = parent.model_fields.get(str(loc[-1])) if _is_section(parent) else None
        why = f" ({_first_sentence(field.description)})" if field is not None and field.description else ""
        return f"{where}: {dotted(loc[:-1]) or 'llm_gateway'} lacks {loc[-1]}{why}"
    if kind in ("value_error", "assertion_error"):
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"{where}: {dotted(loc) or 'llm_gateway'} {message}".replace(": llm_gateway sets", ": sets")
    annotation, constraints = _annotation_at(level, loc)
    takes = describe(annotation, constraints) if annotation is not None else str(item["msg"]).lower()
    return f"{where}: {dotted(loc) or 'llm_gateway'} must be {takes}; got {shown(item.get('input'))}"


def dotted(loc: tuple[str | int, ...]) -> str:
    """A location as the YAML reads: `privacy.request.entities[2]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(annotation: Any, constraints: tuple[Any, ...] = ()) -> str:
    """What a value of `annotation` (with its `Gt`/`Le`... constraints) may be, in words."""
    annotation, constraints = _unwrap(annotation, constraints)
    origin = get_origin(annotation)
    if origin is Literal:
        values = get_args(annotation)
        return "true" if values == (True,) else "one of " + ", ".join(str(v) for v in values)
    if annotation is bool:
        return "true or false"
    if annotation in (int, float):
        noun = "whole number" if annotation is int else "number"
        return _bounded(noun, constraints)
    if annotation is str:
        return "a non-empty string" if any(getattr(c, "min_length", 0) for c in constraints) else "a string"
    if origin is list:
        (item,) = get_args(annotation)
        inner, _ = _unwrap(item, ())
        if get_origin(inner) is Literal:
            return "a list of: " + ", ".join(str(v) for v in get_args(inner))
        return "a list of " + describe(item).removeprefix("a ") + "s"
    if origin is dict:
        return "a mapping of names to sections"
    if _is_section(annotation):
        return "a mapping"
    return str(annotation)


def _bounded(noun: str, constraints: tuple[Any, ...]) -> str:
    low: Any = None
    high: Any = None
    low_open = False
    for constraint in constraints:
        if isinstance(constraint, annotated_types.Gt):
            low, low_open = constraint.gt, True
        elif isinstance(constraint, annotated_types.Ge):
            low = constraint.ge
        elif isinstance(constraint, annotated_types.Le):
            high = constraint.le
    if low == 0 and low_open and high is None:
        return f"a positive {noun}"
    if low is not None and high is not None:
        return f"a {noun} above {low:g} and at most {high:g}" if low_open else f"a {noun} from {low:g} to {high:g}"
    if low is not None:
        return f"a {noun} above {low:g}" if low_open else f"a {noun}, at least {low:g}"
    return f"a {noun}, at most {high:g}" if high is not None else f"a {noun}"


def _annotation_at(level: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The type (and constraints) found by following `loc` from `level`; (None, ()) when it leads nowhere."""
    current: Any = level
    constraints: tuple[Any, ...] = ()
    for part in loc:
        current, constraints = _unwrap(current, constraints)
        origin = get_origin(current)
        if _is_section(current) and isinstance(part, str) and part in current.model_fields:
            field = current.model_fields[part]
            current, constraints = field.annotation, tuple(field.metadata)
        elif origin is list and isinstance(part, int):
            current, constraints = get_args(current)[0], ()
        elif origin is dict and isinstance(part, str):
            current, constraints = get_args(current)[1], ()
        else:
            return None, ()
    return current, constraints


def unwrap(annotation: Any) -> Any:
    """`annotation` without `Annotated` and without `| None`."""
    return _unwrap(annotation, ())[0]


def _unwrap(annotation: Any, constraints: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    """`annotation` without `Annotated` (its metadata joins `constraints`) and without `| None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            constraints = (*constraints, *extra)
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, constraints
            annotation = members[0]
        else:
            return annotation, constraints


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _first_sentence(text: str) -> str:
    head = text.split(". ")[0].rstrip(".")
    return head[0].lower() + head[1:] if head[1:2].islower() else head
