"""Every deterministic scorer passes a right answer and fails a wrong one, saying why."""

from __future__ import annotations

from typing import Any

import pytest

from extproc.evals.base import Answer, SuiteError
from extproc.evals.scorers import build_scorer, parse_json_text


class NoContext:
    request_text = ""

    async def judge(self, messages: list[dict[str, Any]]) -> Answer:
        raise AssertionError("deterministic scorers never call a judge")

    async def answer_with(self, model: str) -> Answer:
        raise AssertionError("deterministic scorers never ask another model")


async def score(spec: dict[str, Any], text: str = "", **answer: Any) -> tuple[bool, str]:
    result = await build_scorer(spec).score(Answer(answer.pop("status", 200), text, **answer), NoContext())
    return result.passed, result.detail


CASES = [
    # (spec, a passing answer, a failing answer, words in the failure)
    ({"exact": "PONG"}, {"text": " PONG\n"}, {"text": "PONG!"}, "expected 'PONG'"),
    ({"exact": {"text": "pong", "ignore_case": True}}, {"text": "PONG"}, {"text": "PING"}, "expected"),
    ({"contains": "PONG"}, {"text": "It is PONG."}, {"text": "It is PING."}, "missing 'PONG'"),
    ({"contains": ["a", "b"]}, {"text": "a and b"}, {"text": "a only"}, "missing 'b'"),
    ({"contains": {"any": ["yes", "sure"], "ignore_case": True}}, {"text": "SURE"}, {"text": "no"}, "none of"),
    ({"not_contains": "secret@example.com"}, {"text": "<EMAIL_ADDRESS_1>"}, {"text": "secret@example.com"}, "contains"),
    ({"regex": r"^\d{3}-\d{4}$"}, {"text": "555-1234"}, {"text": "5551234"}, "does not match"),
    ({"regex": {"pattern": "sorry", "ignore_case": True, "must_not_match": True}}, {"text": "Done."}, {"text": "Sorry!"}, "matches"),
    ({"json_schema": {"schema": {"type": "object", "required": ["a"]}}}, {"text": '```json\n{"a": 1}\n```'}, {"text": '{"b": 1}'}, "'a' is a required property"),
    ({"json_schema": {"schema": {"type": "object"}}}, {"text": '{"a": 1}'}, {"text": "not json"}, "not JSON"),
    ({"json_schema": {"schema": {"required": ["data"]}, "target": "body"}}, {"body": {"data": []}}, {"body": {}}, "required"),
    ({"number": {"equals": 42}}, {"text": "6 x 7 = 42."}, {"text": "6 x 7 = 41."}, "expected 42.0"),
    ({"number": {"equals": 1234.5, "tolerance": 0.1}}, {"text": "Total: 1,234.5 EUR"}, {"text": "Total: 1,235"}, "got 1235"),
    ({"number": {"equals": 100, "tolerance": 0.05, "relative": True}}, {"text": "about 104"}, {"text": "about 106"}, "± 5"),
    ({"number": {"equals": 3, "path": "items.1.qty"}}, {"text": '{"items": [{"qty": 1}, {"qty": 3}]}'}, {"text": '{"items": []}'}, "no number at"),
    ({"number": {"equals": 3}}, {"text": "3 apples"}, {"text": "three apples"}, "no number"),
    ({"served_model": "gpt-4o"}, {"headers": {"x-gateway-served-model": "gpt-4o"}}, {"headers": {"x-gateway-served-model": "gpt-4o-mini"}}, "wanted 'gpt-4o'"),
    ({"header": {"name": "X-Gateway-Cache", "equals": "hit"}}, {"headers": {"x-gateway-cache": "hit"}}, {"headers": {}}, "no x-gateway-cache header"),
    ({"header": {"name": "x-gateway-route-reason", "present": True}}, {"headers": {"x-gateway-route-reason": "rule:code"}}, {"headers": {}}, "x-gateway-route-reason"),
    ({"status": 400}, {"status": 400, "text": "bad"}, {"status": 200, "text": "ok"}, "status 200"),
    ({"status": [429, 503]}, {"status": 503}, {"status": 500}, "status 500"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "good", "bad", "words"), CASES)
async def test_each_scorer_passes_and_fails(spec: dict[str, Any], good: dict[str, Any], bad: dict[str, Any], words: str) -> None:
    passed, _ = await score(spec, **good)
    assert passed
    passed, detail = await score(spec, **bad)
    assert not passed and words in detail, detail


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"similar": "x"}, "unknown scorer 'similar'; the scorers are contains, exact, header"),
        ({"regex": "("}, "regex: missing )"),
        ({"json_schema": {"type": "object"}}, "{schema: {...JSON schema...}"),
        ({"json_schema": {"schema": {"type": "objekt"}}}, "not a valid JSON schema"),
        ({"number": 42}, "{equals: 42"),
        ({"number": {"equals": 1, "tolerance": -1}}, "tolerance must be 0 or more"),
        ({"number": {"equals": 1, "tol": 1}}, "unknown field(s) tol"),
        ({"contains": []}, "at least one text"),
        ({"status": 1000}, "an HTTP status"),
        ({"judge": {"reference": "x"}}, "needs a `rubric`"),
        ({"pairwise": {"rubric": "r"}}, "one of the two"),
        ({"pairwise": {"rubric": "r", "reference": "x", "pass_on": ["draw"]}}, "pass_on"),
    ],
)
def test_a_bad_scorer_entry_names_the_problem(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(SuiteError) as raised:
        build_scorer(spec)
    assert words in str(raised.value)


def test_json_in_a_fence_is_read() -> None:
    assert parse_json_text('```\n{"a": [1]}\n```') == {"a": [1]}
    with pytest.raises(ValueError):
        parse_json_text("```json\nnope\n```")
