"""Templates: strict variables named in errors, a sandbox that keeps rendering bounded, and prompt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from extproc.prompts.diff import diff_prompts
from extproc.prompts.files import load_prompt_dir, load_prompt_file, parse_prompt_text, to_yaml, validate_document
from extproc.prompts.model import PromptInvalid, check_label
from extproc.prompts.template import RenderError, RenderTooLarge, compile_prompt, render_messages

SUPPORT = """
name: support-reply
description: Answer a customer.
model: fast
params: { temperature: 0.2, max_tokens: 300 }
variables:
  customer: { description: the customer's first name }
  question:
  tone: { default: friendly }
messages:
  - role: system
    content: |
      You are a {{ tone }} support agent.
  - role: user
    content: "{{ customer }} asks: {{ question }}"
"""


def compiled(content: str, **document: object):  # noqa: ANN201 - a CompiledPrompt
    return compile_prompt(validate_document({"name": "t", "messages": [{"role": "user", "content": content}], **document}))


def render(content: str, variables: dict[str, object], max_bytes: int = 100_000) -> str:
    return render_messages(compiled(content), variables, max_bytes)[0]["content"]


def test_a_prompt_file_renders_with_defaults_and_the_given_variables() -> None:
    prompt = compile_prompt(parse_prompt_text(SUPPORT))
    assert prompt.required == {"customer", "question"} and prompt.accepted == {"customer", "question", "tone"}
    messages = render_messages(prompt, {"customer": "Ann", "question": "Where is my order?"}, 10_000)
    assert messages == [
        {"role": "system", "content": "You are a friendly support agent.\n"},
        {"role": "user", "content": "Ann asks: Where is my order?"},
    ]
    formal = render_messages(prompt, {"customer": "Ann", "question": "?", "tone": "formal"}, 10_000)
    assert formal[0]["content"] == "You are a formal support agent.\n"


def test_missing_and_extra_variables_are_named() -> None:
    prompt = compile_prompt(parse_prompt_text(SUPPORT))
    with pytest.raises(RenderError, match="missing variable 'question'.*this prompt takes customer, question, tone"):
        render_messages(prompt, {"customer": "Ann"}, 10_000)
    with pytest.raises(RenderError, match="unexpected variable 'colour'"):
        render_messages(prompt, {"customer": "Ann", "question": "?", "colour": "red"}, 10_000)
    with pytest.raises(RenderError, match="this prompt takes no variables"):
        render_messages(compiled("plain"), {"x": 1}, 100)


def test_variables_without_a_declaration_are_read_from_the_templates() -> None:
    prompt = compiled("{% for item in items %}- {{ item.title }}\n{% endfor %}{{ note|upper }}")
    assert prompt.required == {"items", "note"}
    text = render_messages(prompt, {"items": [{"title": "a"}, {"title": "b"}], "note": "end"}, 1000)[0]["content"]
    assert text == "- a\n- b\nEND"


def test_a_missing_attribute_of_a_variable_is_a_clear_error_not_an_empty_string() -> None:
    with pytest.raises(RenderError, match="has no attribute 'title'"):
        render("{{ item.title }}", {"item": {"name": "x"}})


def test_declared_and_used_variables_must_agree() -> None:
    with pytest.raises(PromptInvalid) as raised:
        compiled("{{ a }} {{ b }}", variables={"a": {}, "c": {}})
    assert raised.value.problems == [
        "variable 'b' is used by a message but not declared under `variables`",
        "variable 'c' is declared but no message uses it",
    ]


@pytest.mark.parametrize(
    ("content", "refused"),
    [
        ("{% set x = 1 %}{{ x }}", "{% set %} on line 1"),
        ("{% macro m() %}{{ m() }}{% endmacro %}", "{% macro %}"),
        ("{% include 'other' %}", "{% include %}"),
        ("{% for a in xs %}{% for b in xs %}{{ a }}{% endfor %}{% endfor %}", "inside another loop"),
        ("{% for a in xs recursive %}{{ loop(a) }}{% endfor %}", "recursive loop"),
        ("{% with y = 2 %}{{ y }}{% endwith %}", "{% with %}"),
    ],
)
def test_constructs_that_could_make_rendering_explode_are_refused_when_pushed(content: str, refused: str) -> None:
    with pytest.raises(PromptInvalid, match=refused.replace("{", r"\{").replace("}", r"\}")):
        compiled(content)


def test_a_syntax_error_names_the_message_and_line() -> None:
    with pytest.raises(PromptInvalid, match=r"messages\[0\].content: template syntax error on line 2"):
        compiled("fine\n{{ broken }")


@pytest.mark.parametrize(
    ("content", "variables"),
    [
        ("{{ 'ab' * n }}", {"n": 10**8}),
        ("{{ word * n }}", {"word": "x", "n": 10**9}),
        ("{{ items|join(items|join) }}", {"items": ["x" * 1000] * 1000}),
        ("{{ text|replace('', filler) }}", {"text": "y" * 10_000, "filler": "z" * 100}),
        ("{{ text ~ text ~ text }}", {"text": "q" * 40_000}),
        ("{% for line in lines %}{{ line }}{% endfor %}", {"lines": ["w" * 1000] * 200}),
    ],
)
def test_rendering_stops_at_the_byte_budget(content: str, variables: dict[str, object]) -> None:
    with pytest.raises(RenderTooLarge, match="100,000 bytes|size limit"):
        render(content, variables, max_bytes=100_000)


def test_the_budget_counts_utf8_bytes() -> None:
    assert render("{{ t }}", {"t": "é" * 50}, max_bytes=100) == "é" * 50
    with pytest.raises(RenderTooLarge):
        render("{{ t }}", {"t": "é" * 51}, max_bytes=100)


@pytest.mark.parametrize(
    ("content", "variables", "message"),
    [
        ("{% for i in range(n) %}.{% endfor %}", {"n": 100_000}, "range"),
        ("{{ 10 ** n }}", {"n": 100_000}, "number this large"),
        ("{{ '%s' % x }}", {"x": 1}, "formatting"),
        ("{{ x.__class__.__mro__ }}", {"x": ""}, "could not render|may not do"),
        ("{{ x.center(10**9) }}", {"x": "a"}, "could not render|may not do"),
    ],
)
def test_the_sandbox_refuses_what_templates_may_not_do(content: str, variables: dict[str, object], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(content, variables)


def test_prompt_files_report_every_problem_with_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: Bad Name\nmessages:\n  - role: bot\n    content: 3\nparams: { tempreature: 1 }\nextra: 1\n")
    with pytest.raises(PromptInvalid) as raised:
        load_prompt_file(path)
    text = "\n".join(raised.value.problems)
    for expected in ("unknown field(s) ('extra'", "messages[0].role: 'bot' is not one of", "messages[0].content: 3 is not",
                     "name: 'Bad Name' does not match", "params: 'tempreature' is not one of"):  # fmt: skip
        assert f"{path}: {expected}" in text, text


def test_a_yaml_syntax_error_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmessages: [\n")
    with pytest.raises(PromptInvalid, match=r"broken.yaml: not valid YAML: line 3, column 1"):
        load_prompt_file(path)


def test_a_prompt_directory_loads_by_name_and_refuses_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SUPPORT)
    assert list(load_prompt_dir(tmp_path)) == ["support-reply"]
    (tmp_path / "b.yml").write_text(SUPPORT)
    with pytest.raises(PromptInvalid, match="defined twice"):
        load_prompt_dir(tmp_path)


def test_a_json_schema_response_format_needs_its_schema() -> None:
    with pytest.raises(PromptInvalid, match="json_schema"):
        compiled("x", response_format={"type": "json_schema"})


def test_yaml_round_trip_keeps_the_template_and_its_digest() -> None:
    template = parse_prompt_text(SUPPORT)
    again = parse_prompt_text(to_yaml(template))
    assert again == template and again.digest == template.digest
    assert "content: |\n    You are a {{ tone }} support agent.\n" in to_yaml(template)


def test_diff_shows_what_changed_between_versions() -> None:
    old = parse_prompt_text(SUPPORT)
    new = parse_prompt_text(SUPPORT.replace("temperature: 0.2", "temperature: 0.7").replace("support agent", "agent"))
    diff = diff_prompts(old, new, "support-reply@1", "support-reply@2")
    assert diff.startswith("--- support-reply@1\n+++ support-reply@2\n")
    assert "-  temperature: 0.2\n+  temperature: 0.7\n" in diff
    assert "-    You are a {{ tone }} support agent.\n+    You are a {{ tone }} agent.\n" in diff
    assert diff_prompts(old, parse_prompt_text(SUPPORT)) == ""


def test_labels_are_checked() -> None:
    assert check_label("staging") == "staging"
    for bad in ("latest", "Prod", "", "a b", 3):
        with pytest.raises(PromptInvalid):
            check_label(bad)
