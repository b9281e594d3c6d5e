"""Prompt templates: Jinja2's sandbox, strict variables, and a rendering whose size and work are bounded.

Templates render on the gateway's request path, so a template must not be able
to take the process down, whoever wrote it:

- Jinja2's `SandboxedEnvironment` keeps Python's internals out of reach, and
  `StrictUndefined` turns a variable that is not there into an error instead
  of an empty string.
- Work stays linear in the size of the variables: no assignment (`set`,
  `with`, namespaces), no macros or call blocks, no nested or recursive loops,
  `range()` of at most 10,000; the operators and filters that can multiply a
  string (`*`, `+`, `**`, `%` on text, `center`, `replace`, `str.ljust`...)
  are refused or bounded.
- The output is produced piece by piece and stops with an error as soon as it
  passes the caller's byte budget, so a template cannot exceed a body limit.

The variables a template uses are read from its syntax tree (`jinja2.meta`),
so a request with a missing or an unexpected variable is refused by name
before anything renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes, pass_environment
from jinja2.filters import make_attrgetter
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from extproc.prompts.model import PromptInvalid, PromptTemplate, is_variable_name

MAX_RANGE = 10_000
_MAX_INT_BITS = 4096
# The characters one operator or filter may build during the current render (its byte budget).
_build_limit: ContextVar[int] = ContextVar("prompt_build_limit", default=1 << 20)
# Constructs that could make rendering cost more than linear in the variables.
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}...{% endset %}",
    nodes.With: "{% with %}",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
}
_REFUSED_FILTERS = ("center", "indent", "format", "random", "wordwrap")
_REFUSED_GLOBALS = ("lipsum", "cycler", "joiner", "namespace")
_REFUSED_STR_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "format", "format_map"}
)


class RenderError(Exception):
    """A template could not render with these variables (the message names the variable or the bound)."""


class RenderTooLarge(RenderError):
    """The rendered text passed the byte budget."""


class _PromptSandbox(SandboxedEnvironment):
    """The sandbox with the size-multiplying operators bounded (see the module docstring)."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
                    _check_built(len(sequence) * times, "a repetition with *")
            if isinstance(left, int) and isinstance(right, int):
                _check_bits(left.bit_length() + right.bit_length())
        elif op == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_built(len(left) + len(right), "a concatenation with +")
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
            _check_bits(right if right > _MAX_INT_BITS else abs(left).bit_length() * right)
        elif op == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of text is not allowed in a prompt template; use ~ or filters")
        return super().call_binop(context, op, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _REFUSED_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


def _check_built(size: int, what: str) -> None:
    if size > _build_limit.get():
        raise RenderTooLarge(f"{what} in the template would build more than the prompt's size limit")


def _check_bits(bits: int) -> None:
    if bits > _MAX_INT_BITS:
        raise SecurityError("a number this large is not allowed in a prompt template")


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE:,} items in a prompt template")
    return result


def _bounded_replace(text: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(text), str(old), str(new)
    hits = (len(text) + 1 if old == "" else text.count(old)) if count is None else max(count, 0)
    _check_built(len(text) + hits * max(len(new) - len(old), 0), "replace()")
    return text.replace(old, new, -1 if count is None else count)


def _bounded_join(env: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    """`join`, stopping as soon as the text would pass the size limit (the items are consumed one by one)."""
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    separator, limit, size, parts = str(d), _build_limit.get(), 0, []
    for item in value:
        text = str(item)
        size += len(text) + (len(separator) if parts else 0)
        if size > limit:
            raise RenderTooLarge("join() in the template would build more than the prompt's size limit")
        parts.append(text)
    return separator.join(parts)


def _environment() -> SandboxedEnvironment:
    # Block tags on lines of their own leave no blank lines behind, as a prompt's author expects.
    env = _PromptSandbox(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
    )
    for name in _REFUSED_FILTERS:
        env.filters.pop(name, None)
    env.filters["replace"] = _bounded_replace
    env.filters["join"] = pass_environment(_bounded_join)
    for name in _REFUSED_GLOBALS:
        env.globals.pop(name, None)
    env.globals["range"] = _bounded_range
    return env


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class CompiledPrompt:
    """A version's templates compiled once, with the variables they need and may take."""

    template: PromptTemplate
    # Message roles with their compiled content templates, in order.
    messages: tuple[tuple[str, Any], ...]
    # Every variable the templates use.
    used: frozenset[str]
    # The ones a request must give (used, without a declared default).
    required: frozenset[str]

    @property
    def accepted(self) -> frozenset[str]:
        """Every variable a request may give."""
        return self.used | frozenset(self.template.variables)


def compile_prompt(template: PromptTemplate) -> CompiledPrompt:
    """Compile every message; PromptInvalid lists each syntax error, refused construct and variable mismatch."""
    problems: list[str] = []
    compiled: list[tuple[str, Any]] = []
    used: set[str] = set()
    for index, message in enumerate(template.messages):
        where = f"messages[{index}].content"
        try:
            tree = _ENV.parse(message.content)
        except TemplateSyntaxError as exc:
            problems.append(f"{where}: template syntax error on line {exc.lineno}: {exc.message}")
            continue
        refused = _refused_constructs(tree)
        if refused:
            problems.extend(f"{where}: {problem}" for problem in refused)
            continue
        used |= meta.find_undeclared_variables(tree) - set(_ENV.globals)
        compiled.append((message.role, _ENV.from_string(tree)))
    for name in sorted(used):
        if not is_variable_name(name):
            problems.append(f"variable {name!r} is not a valid name")
    declared = set(template.variables)
    if declared:
        for name in sorted(used - declared):
            problems.append(f"variable {name!r} is used by a message but not declared under `variables`")
        for name in sorted(declared - used):
            problems.append(f"variable {name!r} is declared but no message uses it")
    if problems:
        raise PromptInvalid(problems)
    required = frozenset(n for n in used if not (n in template.variables and template.variables[n].has_default))
    return CompiledPrompt(template, tuple(compiled), frozenset(used), required)


def check_variables(prompt: CompiledPrompt, given: Mapping[str, Any]) -> list[str]:
    """Problems with the variables a request gives: each missing and each unexpected one, by name."""
    problems = [f"missing variable {name!r}" for name in sorted(prompt.required - set(given))]
    accepted = prompt.accepted
    problems += [f"unexpected variable {name!r}" for name in sorted(set(given) - accepted)]
    if problems and accepted:
        problems.append("this prompt takes " + ", ".join(sorted(accepted)))
    elif problems:
        problems.append("this prompt takes no variables")
    return problems


def render_messages(prompt: CompiledPrompt, given: Mapping[str, Any], max_bytes: int) -> list[dict[str, str]]:
    """The rendered messages; RenderError when a variable is wrong, RenderTooLarge past `max_bytes` (UTF-8)."""
    problems = check_variables(prompt, given)
    if problems:
        raise RenderError("; ".join(problems))
    values = {name: v.default for name, v in prompt.template.variables.items() if v.has_default}
    values.update(given)
    budget = max_bytes
    rendered: list[dict[str, str]] = []
    token = _build_limit.set(max_bytes)
    try:
        for role, compiled in prompt.messages:
            text, budget = _render_bounded(compiled.generate(values), budget, max_bytes)
            rendered.append({"role": role, "content": text})
    finally:
        _build_limit.reset(token)
    return rendered


def _render_bounded(pieces: Iterable[str], budget: int, max_bytes: int) -> tuple[str, int]:
    parts: list[str] = []
    try:
        for piece in pieces:
            # A piece's UTF-8 size is at most 4 bytes a character: encode only when that could matter.
            size = len(piece) if piece.isascii() else len(piece.encode("utf-8"))
            budget -= size
            if budget < 0:
                raise RenderTooLarge(f"the rendered prompt is larger than {max_bytes:,} bytes")
            parts.append(piece)
    except SecurityError as exc:
        raise RenderError(f"the template did something prompt templates may not do: {exc}") from None
    except TemplateError as exc:
        raise RenderError(f"the template could not render with these variables: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(f"the template could not render with these variables: {type(exc).__name__}: {exc}") from None
    return "".join(parts), budget


def _refused_constructs(tree: nodes.Template) -> list[str]:
    problems: list[str] = []
    for node_type, shown in _REFUSED_NODES.items():
        for node in tree.find_all(node_type):
            problems.append(f"{shown} on line {node.lineno} is not allowed in prompt templates")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            problems.append(f"the recursive loop on line {loop.lineno} is not allowed in prompt templates")
        for inner in _loops_inside(loop):
            problems.append(
                f"the loop on line {inner.lineno} is inside another loop: prompt templates allow one level of loops"
            )
    return problems


def _loops_inside(loop: nodes.For) -> list[nodes.For]:
    inner: list[nodes.For] = []
    for child in [*loop.body, *loop.else_]:
        inner.extend([child] if isinstance(child, nodes.For) else list(child.find_all(nodes.For)))
    return inner
