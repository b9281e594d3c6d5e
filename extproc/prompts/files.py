"""Prompt files: the YAML a team keeps in its repository, checked before anything is stored.

    name: support-reply
    description: Answer a customer's question in the support team's voice.
    model: fast                      # optional default; the request's model wins
    params: { temperature: 0.2, max_tokens: 300 }
    response_format: { type: json_object }   # optional
    variables:                       # optional; when present it must match what the messages use
      customer: { description: the customer's first name }
      tone: { default: friendly }    # a default makes the variable optional
    messages:
      - role: system
        content: You are a {{ tone }} support agent.
      - role: user
        content: "{{ customer }} asks: {{ question }}"

The same document, as JSON, is the body the gateway's prompt API takes. Every
problem is reported at once, each naming where it is (`messages[1].role: ...`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from extproc.prompts.model import (
    MAX_DOCUMENT_BYTES,
    PARAMETERS,
    ROLES,
    PromptInvalid,
    PromptTemplate,
    canonical_json,
    template_from_document,
)
from extproc.prompts.template import compile_prompt

_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "messages"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]{0,63}$"},
        "description": {"type": "string", "maxLength": 2000},
        "model": {"type": "string", "minLength": 1, "maxLength": 200},
        "params": {"type": "object", "propertyNames": {"enum": list(PARAMETERS)}},
        "response_format": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["text", "json_object", "json_schema"]},
                "json_schema": {"type": "object", "required": ["name", "schema"]},
            },
        },
        "variables": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
            "additionalProperties": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {"description": {"type": "string"}, "default": {}},
            },
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "content"],
                "properties": {"role": {"enum": list(ROLES)}, "content": {"type": "string"}},
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(_DOCUMENT_SCHEMA)


def validate_document(document: Any) -> PromptTemplate:
    """The template a document describes; PromptInvalid with every problem (shape, templates, variables)."""
    problems = [describe_schema_error(error) for error in sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))]
    if problems:
        raise PromptInvalid(problems)
    if len(canonical_json(document)) > MAX_DOCUMENT_BYTES:
        raise PromptInvalid([f"the prompt is larger than {MAX_DOCUMENT_BYTES // 1024} KiB"])
    document = {**document, "variables": {k: v or {} for k, v in (document.get("variables") or {}).items()}}
    template = template_from_document(document)
    response_format = template.response_format
    if response_format is not None and response_format.get("type") == "json_schema" and "json_schema" not in response_format:
        raise PromptInvalid(["response_format: type json_schema needs a json_schema object (name and schema)"])
    compile_prompt(template)  # raises PromptInvalid for template syntax and variable mismatches
    return template


def parse_prompt_text(text: str, source: str = "<prompt>") -> PromptTemplate:
    """A template from a prompt file's YAML text; PromptInvalid naming `source` and each problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptInvalid([f"{source}: not valid YAML: {yaml_problem(exc)}"]) from None
    try:
        return validate_document(document)
    except PromptInvalid as exc:
        raise PromptInvalid([f"{source}: {problem}" for problem in exc.problems]) from None


def load_prompt_file(path: str | Path) -> PromptTemplate:
    """A template from a prompt file; PromptInvalid if it cannot be read or is not a valid prompt."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptInvalid([f"{path}: cannot read it: {exc}"]) from None
    return parse_prompt_text(text, str(path))


def load_prompt_dir(directory: str | Path) -> dict[str, PromptTemplate]:
    """Every `*.yaml`/`*.yml` prompt in a directory, by name; PromptInvalid listing every bad file or duplicate."""
    templates: dict[str, PromptTemplate] = {}
    problems: list[str] = []
    for path in sorted([*Path(directory).glob("*.yaml"), *Path(directory).glob("*.yml")]):
        try:
            template = load_prompt_file(path)
        except PromptInvalid as exc:
            problems.extend(exc.problems)
            continue
        if template.name in templates:
            problems.append(f"{path}: prompt {template.name!r} is defined twice in {directory}")
        templates[template.name] = template
    if problems:
        raise PromptInvalid(problems)
    return templates


def to_yaml(template: PromptTemplate) -> str:
    """The template as a prompt file (what `prompts show` prints and `prompts diff` compares)."""
    return yaml.dump(template.to_document(), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so a template reads (and diffs) as it was written."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def describe_schema_error(error: Any) -> str:
    """A jsonschema error as `where: what` (`messages[1].role: 'bot' is not one of ...`)."""
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    if error.validator == "additionalProperties":
        message = error.message.replace("Additional properties are not allowed", "unknown field(s)")
    else:
        message = error.message
    return f"{where}: {message}" if where else message


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where a YAML syntax error is and what it is (`line 3, column 1: ...`)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem
