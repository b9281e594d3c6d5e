"""A routing policy applied to requests: rules in order, sticky splits, the classifier's table and its floor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from extproc.routing.classifier import Classifier, Prediction
from extproc.routing.decide import decide, split_arm, sticky_key
from extproc.routing.facts import RequestFacts, read_facts
from extproc.routing.policy import (
    Arm,
    Classify,
    Conversation,
    RoutingPolicy,
    Rule,
    Split,
    TableRow,
    When,
)

TABLE = Classify(
    (
        TableRow("coder", task="code"),
        TableRow("small", complexity="simple"),
        TableRow("large", complexity="complex"),
    ),
    min_confidence=0.8,
)
POLICY = RoutingPolicy(
    "auto",
    default="large",
    rules=(
        Rule("tools", When(tools=True), model="large"),
        Rule(
            "acme-canary",
            When(tenants=frozenset({"acme"})),
            split=Split((Arm("control", "small", 90.0), Arm("canary", "other", 10.0))),
        ),
        Rule("classifier", classify=TABLE),
    ),
    conversation=Conversation(),
)


class Fixed:
    """A classifier that answers one prediction, and counts its calls."""

    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction
        self.calls = 0

    def classify(self, messages: Sequence[Any]) -> Prediction:
        self.calls += 1
        return self.prediction


def _facts(**values: Any) -> RequestFacts:
    return RequestFacts(**{"tenant": "test", **values})


def test_the_first_matching_rule_decides_before_the_classifier_runs() -> None:
    classifier = Fixed(Prediction("code", 0.99, "simple", 0.99))
    decision = decide(POLICY, _facts(tools=True), [], classifier)
    assert (decision.model, decision.reason, decision.classified) == ("large", "tools", False)
    assert classifier.calls == 0


@pytest.mark.parametrize(
    ("prediction", "model", "reason"),
    [
        (Prediction("code", 0.95, "simple", 0.9), "coder", "classifier"),
        (Prediction("summarization", 0.9, "simple", 0.85), "small", "classifier"),
        (Prediction("math", 0.9, "complex", 0.99), "large", "classifier"),
        # Unsure of the task: the complexity rows still apply.
        (Prediction("code", 0.5, "simple", 0.95), "small", "classifier"),
        # Unsure of the complexity: the default (the large model), not the small one.
        (Prediction("summarization", 0.9, "simple", 0.6), "large", "default"),
    ],
)
def test_the_table_row_needs_the_floor_for_what_it_asks(prediction: Prediction, model: str, reason: str) -> None:
    decision = decide(POLICY, _facts(), [], Fixed(prediction))
    assert (decision.model, decision.reason) == (model, reason)
    assert decision.classified and decision.task == prediction.task and decision.complexity == prediction.complexity


def test_the_body_task_type_beats_the_classifiers_task() -> None:
    decision = decide(POLICY, _facts(task="code"), [], Fixed(Prediction("translation", 0.99, "simple", 0.99)))
    assert (decision.model, decision.reason, decision.task, decision.task_confidence) == ("coder", "task_type", "code", 1.0)


def test_a_conversation_that_reached_complex_keeps_its_follow_ups_complex() -> None:
    follow_up = Prediction("text_generation", 0.9, "simple", 0.95)
    assert decide(POLICY, _facts(), [], Fixed(follow_up)).model == "small"
    kept = decide(POLICY, _facts(), [], Fixed(follow_up), conversation_complex=True)
    assert (kept.model, kept.reason, kept.complexity) == ("large", "conversation", "complex")
    assert not kept.reached_complex  # remembered already: not written again
    assert decide(POLICY, _facts(), [], Fixed(Prediction("math", 0.9, "complex", 0.9))).reached_complex
    assert not decide(POLICY, _facts(), [], Fixed(Prediction("math", 0.9, "complex", 0.7))).reached_complex


def test_no_matching_rule_is_the_default() -> None:
    policy = RoutingPolicy("auto", default="large", rules=(Rule("tools", When(tools=True), model="small"),))
    decision = decide(policy, _facts(), [], None)
    assert (decision.model, decision.reason, decision.rule) == ("large", "default", None)


def test_a_90_10_split_over_2000_callers_lands_within_2_points() -> None:
    split = POLICY.rules[1].split
    assert split is not None
    arms = Counter(split_arm(split, f"acme\x00user-{n}", "auto/acme-canary").name for n in range(2000))
    assert abs(arms["control"] / 2000 - 0.90) <= 0.02 and abs(arms["canary"] / 2000 - 0.10) <= 0.02


def test_a_split_is_sticky_per_caller_and_independent_per_experiment() -> None:
    split = POLICY.rules[1].split
    assert split is not None
    for n in range(200):
        facts = _facts(tenant="acme", user=f"user-{n}")
        first = decide(POLICY, facts, [], None)
        assert all(decide(POLICY, facts, [], None).arm == first.arm for _ in range(3))
        assert first.reason == f"acme-canary/{first.arm}"
    # Another experiment over the same callers divides them otherwise.
    same = sum(split_arm(split, f"k{n}", "a").name == split_arm(split, f"k{n}", "b").name for n in range(2000))
    assert same < 2000 * 0.9


def test_the_sticky_key_prefers_the_header_then_user_then_the_api_key() -> None:
    split = Split((Arm("a", "x", 50.0), Arm("b", "y", 50.0)), sticky_header="x-user-id")
    assert sticky_key(split, _facts(headers={"x-user-id": "u1"}, user="body", key_id="k")) == "test\x00u1"
    assert sticky_key(split, _facts(user="body", key_id="k")) == "test\x00body"
    assert sticky_key(split, _facts(key_id="k")) == "test\x00k"


def test_request_facts_are_read_from_the_canonical_body() -> None:
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 4000},
                                                  {"type": "image_url", "image_url": {"url": "u"}}]}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
        "metadata": {"team": "search"},
        "user": "u-1",
    }  # fmt: skip
    facts = read_facts(body, "code", "acme", {"x-h": "v"}, "key-1")
    assert (facts.prompt_tokens, facts.tools, facts.images, facts.json, facts.user) == (1000, True, True, True, "u-1")
    plain = read_facts({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}}, None, "t", {}, None)
    assert (plain.tools, plain.images, plain.json, plain.user) == (False, False, False, None)


@pytest.mark.parametrize(
    ("when", "facts", "holds"),
    [
        (When(min_prompt_tokens=100), {"prompt_tokens": 99}, False),
        (When(min_prompt_tokens=100, max_prompt_tokens=200), {"prompt_tokens": 150}, True),
        (When(json=True), {"json": False}, False),
        (When(header=("x-team", frozenset({"search"}))), {"headers": {"x-team": "search"}}, True),
        (When(header=("x-team", None)), {"headers": {}}, False),
        (When(metadata=("team", frozenset({"ads"}))), {"metadata": {"team": "search"}}, False),
        (When(tasks=frozenset({"code"})), {"task": None}, False),
        (When(tenants=frozenset({"acme"}), tools=False), {"tenant": "acme"}, True),
    ],
)
def test_conditions(when: When, facts: dict[str, Any], holds: bool) -> None:
    from extproc.routing.facts import holds as check

    assert check(when, _facts(**facts)) is holds


def test_the_shipped_classifier_routes_the_obvious_cases() -> None:
    classifier = Classifier.load()
    code = [{"role": "user", "content": "Write a Python function that parses ISO 8601 dates and add unit tests."}]
    greeting = [{"role": "user", "content": "hi there!"}]
    assert decide(POLICY, _facts(), code, classifier).model == "coder"
    assert decide(POLICY, _facts(), greeting, classifier).model == "small"
