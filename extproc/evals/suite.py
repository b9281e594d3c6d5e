"""Eval suites: the YAML a team keeps next to its prompts, checked whole before any request is sent.

    suite: golden
    judge: { model: smart }              # for judge and pairwise scorers; never a judged model
    defaults: { model: fast, params: { max_tokens: 200 } }
    cases:
      - id: pong
        messages: [{ role: user, content: "Reply with the word PONG." }]
        expect:
          - contains: PONG
      - id: support-reply
        prompt: { name: support-reply, label: production, variables: { customer: Ann, question: "..." } }
        expect:
          - regex: "(?i)ann"

A case sends `messages` (and/or a `prompt` reference) to a `model` on the chat
endpoint, or `input` to the embeddings endpoint (a prompt case takes its
prompt's model unless it names one: `defaults.model` does not apply to it), and every `expect` entry
scores the answer (see `scorers.py` and `judge.py`). `skip: reason` keeps a
case in the file without running it. The gateway's URL and key come from the
command line or the environment, never from the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from extproc.evals.base import Scorer, SuiteError
from extproc.evals.judge import JUDGE_SCORERS
from extproc.evals.scorers import build_scorer
from extproc.prompts.files import describe_schema_error, yaml_problem

ENDPOINTS = {"chat": "/v1/chat/completions", "embeddings": "/v1/embeddings"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_MESSAGES = {"type": "array", "items": {"type": "object", "required": ["role", "content"]}}
_CASE_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "description": {"type": "string"},
    "model": {"type": "string", "minLength": 1},
    "endpoint": {"enum": list(ENDPOINTS)},
    "messages": _MESSAGES,
    "input": {"type": ["string", "array"]},
    "prompt": {"type": "object", "required": ["name"]},
    "params": {"type": "object"},
    "stream": {"type": "boolean"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "skip": {"type": "string", "minLength": 1},
    "expect": {"type": "array", "items": {"type": "object", "minProperties": 1, "maxProperties": 1}},
}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["suite", "cases"],
    "properties": {
        "suite": {"type": "string", "pattern": _ID.pattern},
        "description": {"type": "string"},
        "judge": {"type": "object", "additionalProperties": False, "required": ["model"],
                  "properties": {"model": {"type": "string", "minLength": 1}, "params": {"type": "object"}}},
        "defaults": {"type": "object", "additionalProperties": False,
                     "properties": {k: _CASE_FIELDS[k] for k in ("model", "endpoint", "params", "headers", "stream")}},
        "cases": {"type": "array", "minItems": 1,
                  "items": {"type": "object", "additionalProperties": False, "required": ["id"], "properties": _CASE_FIELDS}},
    },
}  # fmt: skip
_VALIDATOR = Draft202012Validator(_SCHEMA)


@dataclass(frozen=True, slots=True)
class Case:
    """One request to send and the scorers its answer must pass."""

    id: str
    endpoint: str = "chat"
    model: str | None = None
    messages: tuple[dict[str, Any], ...] = ()
    input: Any = None
    prompt: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    scorers: tuple[Scorer, ...] = ()
    skip: str | None = None
    description: str = ""

    def body(self) -> dict[str, Any]:
        """The request body the case sends (the prompt reference included, for the gateway to expand)."""
        body: dict[str, Any] = dict(self.params)
        if self.model:
            body["model"] = self.model
        if self.endpoint == "embeddings":
            body["input"] = self.input
            return body
        body["messages"] = [dict(m) for m in self.messages]
        if self.prompt is not None:
            body["prompt"] = dict(self.prompt)
        if self.stream:
            body["stream"] = True
        return body


@dataclass(frozen=True, slots=True)
class Suite:
    """A named set of cases, and the judge model its judge scorers use."""

    name: str
    cases: tuple[Case, ...]
    judge_model: str | None = None
    judge_params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""


def load_suite(path: str | Path) -> Suite:
    """A suite from a YAML file; SuiteError listing every problem (syntax with its line, shape, scorers, judge)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([f"{path}: cannot read it: {exc}"]) from None
    return parse_suite(text, str(path))


def parse_suite(text: str, source: str = "<suite>") -> Suite:
    """A suite from YAML text; SuiteError with each problem prefixed by `source`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError([f"{source}: not valid YAML: {yaml_problem(exc)}"]) from None
    problems = [describe_schema_error(error) for error in _VALIDATOR.iter_errors(document)]
    if problems:
        raise SuiteError([f"{source}: {problem}" for problem in sorted(problems)])
    try:
        return _build(document, source)
    except SuiteError as exc:
        raise SuiteError([f"{source}: {problem}" for problem in exc.problems]) from None


def _build(document: dict[str, Any], source: str) -> Suite:
    defaults = document.get("defaults") or {}
    judge = document.get("judge") or {}
    judge_model = judge.get("model")
    problems: list[str] = []
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["cases"]):
        where = f"cases[{index}] ({raw['id']})"
        case_problems: list[str] = []
        if not _ID.match(raw["id"]):
            case_problems.append(f"{where}: id must be 1-100 letters, digits, '.', '_', '-'")
        if raw["id"] in seen:
            case_problems.append(f"{where}: id {raw['id']!r} is used twice")
        seen.add(raw["id"])
        scorers: list[Scorer] = []
        for number, spec in enumerate(raw.get("expect") or []):
            try:
                scorers.append(build_scorer(spec))
            except SuiteError as exc:
                case_problems.extend(f"{where}.expect[{number}]: {problem}" for problem in exc.problems)
        case = Case(
            id=raw["id"],
            endpoint=raw.get("endpoint", defaults.get("endpoint", "chat")),
            # A prompt case uses its prompt's model unless it names one itself.
            model=raw.get("model", None if "prompt" in raw else defaults.get("model")),
            messages=tuple(raw.get("messages") or ()),
            input=raw.get("input"),
            prompt=raw.get("prompt"),
            params={**(defaults.get("params") or {}), **(raw.get("params") or {})},
            stream=bool(raw.get("stream", defaults.get("stream", False))),
            headers={**(defaults.get("headers") or {}), **(raw.get("headers") or {})},
            scorers=tuple(scorers),
            skip=raw.get("skip"),
            description=raw.get("description", ""),
        )
        case_problems += _case_problems(case, where, judge_model)
        problems += case_problems
        cases.append(case)
    if problems:
        raise SuiteError(problems)
    return Suite(document["suite"], tuple(cases), judge_model, dict(judge.get("params") or {}),
                 document.get("description", ""), source)  # fmt: skip


def _case_problems(case: Case, where: str, judge_model: str | None) -> list[str]:
    problems: list[str] = []
    if case.skip is None and not case.scorers:
        problems.append(f"{where}: needs at least one `expect` scorer (or `skip: reason`)")
    if case.endpoint == "embeddings":
        if case.input is None:
            problems.append(f"{where}: an embeddings case needs `input`")
        if case.messages or case.prompt or case.stream:
            problems.append(f"{where}: an embeddings case takes `input`, not messages, prompt or stream")
    elif not case.messages and case.prompt is None:
        problems.append(f"{where}: a chat case needs `messages`, a `prompt`, or both")
    if case.model is None and case.prompt is None:
        problems.append(f"{where}: no model: set `model` on the case or under `defaults`")
    judged_models = {case.model} | {getattr(s, "against_model", None) for s in case.scorers}
    if any(scorer.name in JUDGE_SCORERS for scorer in case.scorers):
        if judge_model is None:
            problems.append(f"{where}: a judge scorer needs `judge: {{model: ...}}` at the top of the suite")
        elif judge_model in judged_models:
            problems.append(f"{where}: the judge model {judge_model!r} would judge its own answers; "
                            "pick a judge model other than the judged ones")  # fmt: skip
    return problems

