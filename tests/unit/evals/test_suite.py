"""Suite files: checked whole before anything is sent, every problem named with where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from extproc.evals.base import SuiteError
from extproc.evals.cli import add_arguments
from extproc.evals.suite import load_suite, parse_suite
from extproc.prompts.files import load_prompt_dir

ROOT = Path(__file__).resolve().parents[3]


def problems(text: str) -> list[str]:
    with pytest.raises(SuiteError) as raised:
        parse_suite(text, "s.yaml")
    return raised.value.problems


def test_the_shipped_suites_and_prompts_load() -> None:
    golden = load_suite(ROOT / "evals/golden.yaml")
    assert len(golden.cases) >= 20
    models = {case.model for case in golden.cases}
    assert {"fast", "smart", "claude", "gemini", "local", "reliable", "embed"} <= models
    prompts = load_prompt_dir(ROOT / "evals/prompts")
    used = {case.prompt["name"] for case in golden.cases if case.prompt}
    assert used == set(prompts) and len(prompts) >= 2
    routing = load_suite(ROOT / "evals/routing.yaml")
    assert not any(case.skip for case in routing.cases) and any(case.model == "auto" for case in routing.cases)


def test_a_yaml_syntax_error_says_where() -> None:
    assert problems("suite: x\ncases:\n  - id: a\n    messages: [\n") == [
        "s.yaml: not valid YAML: line 5, column 1: expected the node content, but found '<stream end>'"
    ]


def test_shape_problems_are_all_reported() -> None:
    found = problems("suite: x\ncases:\n  - id: a\n    model: 3\n    expect: [{contains: a, regex: b}]\n    colour: red\n")
    assert "s.yaml: cases[0]: unknown field(s) ('colour' was unexpected)" in found
    assert "s.yaml: cases[0].model: 3 is not of type 'string'" in found
    assert any(p.startswith("s.yaml: cases[0].expect[0]: ") and "too many properties" in p for p in found)


@pytest.mark.parametrize(
    ("cases", "words"),
    [
        ("  - {id: a, model: fast, messages: [{role: user, content: hi}]}", "needs at least one `expect` scorer"),
        ("  - {id: a, messages: [{role: user, content: hi}], expect: [{contains: x}]}", "no model"),
        ("  - {id: a, model: fast, expect: [{contains: x}]}", "needs `messages`, a `prompt`, or both"),
        ("  - {id: a, model: e, endpoint: embeddings, expect: [{status: 200}]}", "needs `input`"),
        ("  - {id: a, model: f, messages: [{role: user, content: x}], expect: [{contains: x}]}\n"
         "  - {id: a, model: f, messages: [{role: user, content: x}], expect: [{contains: x}]}", "used twice"),
        ("  - {id: 'a b', model: f, messages: [{role: user, content: x}], expect: [{contains: x}]}", "id must be"),
        ("  - {id: a, model: f, messages: [{role: user, content: x}], expect: [{regex: '('}]}", "cases[0] (a).expect[0]: regex"),
        ("  - {id: a, model: f, messages: [{role: user, content: x}], expect: [{judge: {rubric: r}}]}", "needs `judge: {model: ...}`"),
    ],
)
def test_case_problems_name_the_case(cases: str, words: str) -> None:
    found = problems("suite: x\ncases:\n" + cases + "\n")
    assert any(words in problem for problem in found), found


def test_a_judge_may_not_judge_its_own_model() -> None:
    text = """
suite: x
judge: { model: smart }
cases:
  - { id: own, model: smart, messages: [{role: user, content: x}], expect: [{judge: {rubric: r}}] }
  - { id: against, model: fast, messages: [{role: user, content: x}],
      expect: [{pairwise: {rubric: r, against_model: smart}}] }
  - { id: fine, model: fast, messages: [{role: user, content: x}], expect: [{judge: {rubric: r}}] }
"""
    found = problems(text)
    assert len(found) == 2 and all("the judge model 'smart' would judge its own answers" in p for p in found)
    assert "cases[0] (own)" in found[0] and "cases[1] (against)" in found[1]


def test_defaults_apply_but_a_prompt_case_keeps_its_prompts_model() -> None:
    suite = parse_suite("""
suite: x
defaults: { model: fast, params: { max_tokens: 10 }, headers: { x-a: "1" } }
cases:
  - { id: plain, messages: [{role: user, content: x}], params: { temperature: 0 }, expect: [{contains: x}] }
  - { id: prompted, prompt: { name: p }, expect: [{contains: x}] }
""")
    plain, prompted = suite.cases
    assert plain.body() == {"max_tokens": 10, "temperature": 0, "model": "fast", "messages": [{"role": "user", "content": "x"}]}
    assert plain.headers == {"x-a": "1"}
    assert prompted.body() == {"max_tokens": 10, "messages": [], "prompt": {"name": "p"}}


def test_an_unreadable_suite_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read it"):
        load_suite(tmp_path / "missing.yaml")


def test_the_command_line_takes_gateway_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("LLM_GATEWAY_URL", "http://gw.example:8080")
    monkeypatch.setenv("LLM_GATEWAY_KEY", "sk-from-env")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["run", "s.yaml"])
    assert (args.gateway, args.key) == ("http://gw.example:8080", "sk-from-env")
    assert parser.parse_args(["--gateway", "http://other", "run", "s.yaml"]).gateway == "http://other"
