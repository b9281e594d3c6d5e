"""The deterministic scorers, and `build_scorer`, which turns one `expect` entry of a suite into a scorer.

    - exact: "PONG"                          # the whole text (stripped); or {text, ignore_case, strip}
    - contains: PONG                         # or [a, b] (all), or {all: [...], any: [...], ignore_case}
    - not_contains: [jane@example.com]
    - regex: "(?i)^pong"                     # or {pattern, ignore_case, must_not_match}
    - json_schema: { schema: {...} }         # the text (or `target: body`, the whole JSON answer) is valid
    - number: { equals: 42, tolerance: 0.5 } # the last number in the text, or the JSON value at `path`
    - served_model: gpt-4o-mini              # the x-gateway-served-model header
    - header: { name: x-gateway-cache, equals: hit }   # or contains, regex, present
    - status: 400                            # the HTTP status (then the text is the error's message)

Judge scorers (`judge`, `pairwise`) live in `judge.py`. An answer that is not
a 2xx fails every scorer of a case that does not expect that status.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import Draft202012Validator, SchemaError

from extproc.evals.base import Answer, Context, Score, Scorer, SuiteError
from extproc.evals.judge import JUDGE_SCORERS, build_judge_scorer

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Exact:
    """The text equals `text` (stripped unless `strip: false`)."""

    text: str
    ignore_case: bool = False
    strip: bool = True
    name: str = "exact"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        got, want = (answer.text.strip(), self.text.strip()) if self.strip else (answer.text, self.text)
        if self.ignore_case:
            got, want = got.casefold(), want.casefold()
        return Score(self.name, got == want, "" if got == want else f"expected {self.text!r}, got {_clip(answer.text)!r}")


@dataclass(frozen=True, slots=True)
class Contains:
    """The text contains every `all`, at least one `any` (when given), and no `none`."""

    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    ignore_case: bool = False
    name: str = "contains"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        text = answer.text.casefold() if self.ignore_case else answer.text
        fold: Callable[[str], str] = (lambda s: s.casefold()) if self.ignore_case else (lambda s: s)
        problems = [f"missing {s!r}" for s in self.all if fold(s) not in text]
        if self.any and not any(fold(s) in text for s in self.any):
            problems.append(f"none of {list(self.any)!r}")
        problems += [f"contains {s!r}" for s in self.none if fold(s) in text]
        return Score(self.name, not problems, "; ".join(problems) + (f" in {_clip(answer.text)!r}" if problems else ""))


@dataclass(frozen=True, slots=True)
class Regex:
    """The text matches `pattern` (searched anywhere), or does not with `must_not_match`."""

    pattern: re.Pattern[str]
    must_not_match: bool = False
    name: str = "regex"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        found = self.pattern.search(answer.text) is not None
        passed = found != self.must_not_match
        verb = "matches" if found else "does not match"
        return Score(self.name, passed, "" if passed else f"{_clip(answer.text)!r} {verb} /{self.pattern.pattern}/")


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """The text (a ```json fence allowed), or with `target: body` the whole JSON answer, is valid against `schema`."""

    validator: Draft202012Validator
    target: str = "text"
    name: str = "json_schema"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        if self.target == "body":
            value = answer.body
        else:
            try:
                value = parse_json_text(answer.text)
            except ValueError:
                return Score(self.name, False, f"not JSON: {_clip(answer.text)!r}")
        error = next(iter(sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path))), None)
        if error is None:
            return Score(self.name, True)
        where = "/".join(str(p) for p in error.absolute_path) or "the value"
        return Score(self.name, False, f"{where}: {error.message}")


@dataclass(frozen=True, slots=True)
class Number:
    """The last number in the text (or the JSON value at `path`) is `equals` within `tolerance` (absolute or relative)."""

    equals: float
    tolerance: float = 0.0
    relative: bool = False
    path: str | None = None
    name: str = "number"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        try:
            got = self._value(answer.text)
        except ValueError as exc:
            return Score(self.name, False, str(exc))
        allowed = self.tolerance * abs(self.equals) if self.relative else self.tolerance
        passed = math.isfinite(got) and abs(got - self.equals) <= allowed
        return Score(self.name, passed, "" if passed else f"expected {self.equals} ± {allowed:g}, got {got:g}")

    def _value(self, text: str) -> float:
        if self.path is not None:
            value: Any = parse_json_text(text)
            for part in self.path.split("."):
                if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                    value = value[int(part)]
                else:
                    value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(f"no number at {self.path!r}")
            return float(str(value).replace(",", ""))
        numbers = [m.group(0) for m in _NUMBER.finditer(text) if any(c.isdigit() for c in m.group(0))]
        if not numbers:
            raise ValueError(f"no number in {_clip(text)!r}")
        return float(numbers[-1].replace(",", ""))


@dataclass(frozen=True, slots=True)
class Header:
    """A response header equals, contains or matches a value, or is present (`served_model` is one of these)."""

    header: str
    equals: str | None = None
    contains: str | None = None
    pattern: re.Pattern[str] | None = None
    present: bool | None = None
    name: str = "header"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        value = answer.headers.get(self.header)
        if self.present is not None:
            passed = (value is not None) == self.present
        elif value is None:
            return Score(self.name, False, f"no {self.header} header")
        else:
            passed = (self.equals is None or value == self.equals) and (self.contains is None or self.contains in value) and (
                self.pattern is None or self.pattern.search(value) is not None
            )
        wanted = self.equals or self.contains or (self.pattern.pattern if self.pattern else None)
        if passed:
            return Score(self.name, True)
        return Score(self.name, False, f"{self.header}: {value!r}" + (f", wanted {wanted!r}" if wanted else ""))


@dataclass(frozen=True, slots=True)
class Status:
    """The HTTP status is one of `statuses`."""

    statuses: tuple[int, ...]
    name: str = "status"

    async def score(self, answer: Answer, context: Context) -> Score:  # noqa: D102
        passed = answer.status in self.statuses
        return Score(self.name, passed, "" if passed else f"status {answer.status} ({_clip(answer.text)!r})")


def parse_json_text(text: str) -> Any:
    """JSON from a completion's text, unwrapping one ```json fence; ValueError when it is not JSON."""
    fenced = _FENCE.match(text)
    try:
        return orjson.loads(fenced.group(1) if fenced else text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def build_scorer(spec: dict[str, Any]) -> Scorer:
    """The scorer one `expect` entry describes; SuiteError naming what is wrong with it."""
    ((name, value),) = spec.items()
    if name in JUDGE_SCORERS:
        return build_judge_scorer(name, value)
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted([*_FACTORIES, *JUDGE_SCORERS]))
        raise SuiteError([f"unknown scorer {name!r}; the scorers are {known}"])
    try:
        return factory(value)
    except (TypeError, ValueError, KeyError, re.error, SchemaError) as exc:
        raise SuiteError([f"{name}: {_reason(exc)}"]) from None


def _exact(value: Any) -> Exact:
    if isinstance(value, dict):
        return Exact(_text(value["text"]), bool(value.get("ignore_case", False)), bool(value.get("strip", True)))
    return Exact(_text(value))


def _contains(value: Any) -> Contains:
    if isinstance(value, dict):
        _only(value, {"all", "any", "ignore_case"})
        if not value.get("all") and not value.get("any"):
            raise ValueError("write it as a text, a list of texts (all), or {all: [...], any: [...]}")
        every = _texts(value["all"]) if value.get("all") else ()
        some = _texts(value["any"]) if value.get("any") else ()
        return Contains(every, some, (), bool(value.get("ignore_case")))
    return Contains(all=_texts(value))


def _not_contains(value: Any) -> Contains:
    return Contains(none=_texts(value), name="not_contains")


def _regex(value: Any) -> Regex:
    if isinstance(value, dict):
        _only(value, {"pattern", "ignore_case", "must_not_match"})
        flags = re.IGNORECASE if value.get("ignore_case") else 0
        return Regex(re.compile(_text(value["pattern"]), flags), bool(value.get("must_not_match", False)))
    return Regex(re.compile(_text(value)))


def _json_schema(value: Any) -> JsonSchema:
    if not isinstance(value, dict) or "schema" not in value:
        raise ValueError("write it as {schema: {...JSON schema...}, target: text | body}")
    _only(value, {"schema", "target"})
    Draft202012Validator.check_schema(value["schema"])
    target = value.get("target", "text")
    if target not in ("text", "body"):
        raise ValueError("target is text (the completion) or body (the whole JSON answer)")
    return JsonSchema(Draft202012Validator(value["schema"]), target)


def _number(value: Any) -> Number:
    if not isinstance(value, dict) or "equals" not in value:
        raise ValueError("write it as {equals: 42, tolerance: 0.5, relative: false, path: a.b}")
    _only(value, {"equals", "tolerance", "relative", "path"})
    tolerance = float(value.get("tolerance", 0))
    if tolerance < 0:
        raise ValueError("tolerance must be 0 or more")
    return Number(float(value["equals"]), tolerance, bool(value.get("relative", False)), value.get("path"))


def _header(value: Any) -> Header:
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError("write it as {name: x-gateway-..., equals | contains | regex: ..., present: true}")
    _only(value, {"name", "equals", "contains", "regex", "present"})
    pattern = re.compile(value["regex"]) if "regex" in value else None
    present = value.get("present")
    return Header(_text(value["name"]).lower(), value.get("equals"), value.get("contains"), pattern,
                  None if present is None else bool(present))  # fmt: skip


def _served_model(value: Any) -> Header:
    return Header("x-gateway-served-model", equals=_text(value), name="served_model")


def _status(value: Any) -> Status:
    statuses = tuple(value) if isinstance(value, list) else (value,)
    if not statuses or not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
        raise ValueError("an HTTP status such as 400, or a list of them")
    return Status(statuses)


_FACTORIES: dict[str, Callable[[Any], Scorer]] = {
    "exact": _exact, "contains": _contains, "not_contains": _not_contains, "regex": _regex,
    "json_schema": _json_schema, "number": _number, "header": _header, "served_model": _served_model,
    "status": _status,
}  # fmt: skip


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _texts(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("needs at least one text")
    return tuple(_text(v) for v in values)


def _only(value: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; it takes {', '.join(sorted(allowed))}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    if isinstance(exc, SchemaError):
        return f"the schema is not a valid JSON schema: {exc.message}"
    return str(exc)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
