"""What a prompt is: a named template with immutable numbered versions and movable labels.

A version's template holds chat messages whose contents are Jinja2 templates,
and the defaults a request may override: a model, parameters and a response
format. Versions are numbered 1, 2, 3... per prompt and namespace and never
change; labels (`production`, `staging`, ...) point at one version each and
move. `latest` is not stored: it always names the highest version.

Every tenant has its own namespace (its tenant name) and there is one global
namespace that admins manage; a tenant's prompt shadows a global one of the
same name (see `resolver.py`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

# The global namespace's key in the stores; `@` never appears in a tenant name.
GLOBAL = "@global"
DEFAULT_LABEL = "production"
# The implicit label: the highest version (never stored, cannot be moved).
LATEST = "latest"
ROLES = ("system", "developer", "user", "assistant")
# The request parameters a prompt may set as defaults (the request's own values win).
PARAMETERS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "presence_penalty",
    "frequency_penalty", "seed", "n", "logit_bias", "user", "reasoning_effort", "parallel_tool_calls",
    "tools", "tool_choice",
)  # fmt: skip
# A prompt document's size bound (its canonical JSON): templates are text, not data.
MAX_DOCUMENT_BYTES = 256 * 1024

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LABEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class PromptInvalid(ValueError):
    """A prompt document that cannot be stored, with every problem found, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Variable:
    """A declared variable: what it is for, and the value used when a request leaves it out."""

    description: str = ""
    # None: required. A variable with a default may be left out.
    default: Any = None
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message of a template; `content` is a Jinja2 template."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """What one version of a prompt says: messages, defaults, and its declared variables."""

    name: str
    messages: tuple[Message, ...]
    description: str = ""
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    response_format: Mapping[str, Any] | None = None
    # Declared variables; empty when the file declares none (then every variable is required).
    variables: Mapping[str, Variable] = field(default_factory=lambda: MappingProxyType({}))

    def to_document(self) -> dict[str, Any]:
        """The prompt as the JSON/YAML document a user writes (empty fields left out)."""
        document: dict[str, Any] = {"name": self.name}
        if self.description:
            document["description"] = self.description
        if self.model:
            document["model"] = self.model
        if self.params:
            document["params"] = dict(self.params)
        if self.response_format is not None:
            document["response_format"] = dict(self.response_format)
        if self.variables:
            document["variables"] = {name: _variable_document(v) for name, v in self.variables.items()}
        document["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        return document

    @property
    def digest(self) -> str:
        """`sha256:` of the canonical document: equal templates have equal digests."""
        return "sha256:" + hashlib.sha256(canonical_json(self.to_document())).hexdigest()


@dataclass(frozen=True, slots=True)
class PromptVersion:
    """One immutable, numbered version of a prompt in a namespace."""

    namespace: str
    number: int
    template: PromptTemplate
    created_at: float
    # The id of the key that pushed it (None without authentication).
    created_by: str | None = None

    @property
    def name(self) -> str:
        """The prompt's name."""
        return self.template.name


@dataclass(frozen=True, slots=True)
class PromptHead:
    """A prompt's current state in one namespace: its highest version and where its labels point."""

    namespace: str
    name: str
    latest: int
    labels: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def version_for(self, label: str) -> int | None:
        """The version `label` points at (`latest` is the highest), or None."""
        return self.latest if label == LATEST else self.labels.get(label)

    def labels_of(self, number: int) -> list[str]:
        """The labels pointing at version `number`, sorted."""
        return sorted(label for label, version in self.labels.items() if version == number)


def template_from_document(document: Any) -> PromptTemplate:
    """A PromptTemplate from an already validated document (see `files.validate_document`)."""
    variables = {
        name: Variable(str(spec.get("description", "")), spec.get("default"), "default" in spec)
        for name, spec in (document.get("variables") or {}).items()
    }
    response_format = document.get("response_format")
    return PromptTemplate(
        name=document["name"],
        messages=tuple(Message(m["role"], m["content"]) for m in document["messages"]),
        description=document.get("description", "") or "",
        model=document.get("model") or None,
        params=MappingProxyType(dict(document.get("params") or {})),
        response_format=MappingProxyType(dict(response_format)) if response_format is not None else None,
        variables=MappingProxyType(variables),
    )


def check_name(name: Any, what: str = "prompt name") -> str:
    """`name` if it is a valid prompt name (1-64 of a-z 0-9 . _ -, starting with a letter or digit)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise PromptInvalid([f"{what} {name!r} is not valid: use 1-64 of a-z, 0-9, '.', '_', '-' (lower case)"])
    return name


def check_label(label: Any) -> str:
    """`label` if it is a label that can be set (1-32 of a-z 0-9 . _ -; not `latest`)."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise PromptInvalid([f"label {label!r} is not valid: use 1-32 of a-z, 0-9, '.', '_', '-' (lower case)"])
    if label == LATEST:
        raise PromptInvalid(["label 'latest' is implicit (the highest version) and cannot be set"])
    return label


def is_variable_name(name: str) -> bool:
    """True for a name a template can use as a variable."""
    return bool(_VARIABLE.match(name))


def canonical_json(value: Any) -> bytes:
    """Sorted-key JSON: the form documents are hashed and stored in."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def namespace_label(namespace: str) -> str | None:
    """The namespace as the API shows it: None for the global one, else the tenant."""
    return None if namespace == GLOBAL else namespace


def _variable_document(variable: Variable) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if variable.description:
        document["description"] = variable.description
    if variable.has_default:
        document["default"] = variable.default
    return document
