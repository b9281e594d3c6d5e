"""A routing policy applied to one request: which model, and why (plain values in and out).

The policy's entries are tried in order; the first whose `when` holds decides, with a model, a
split arm, or the classifier's table; with none, the default. The reason travels in
`x-gateway-route-reason`, the log line, the trace and the metrics:

- a rule's name, when a rule named the model;
- `<rule>/<arm>` for a split (the arm a caller got, the same every time);
- `classifier` when a classifier table row picked the model; `task_type` when the body's
  `task_type` chose the row (explicit beats inferred); `conversation` when the conversation's
  earlier complexity did (a follow-up stays on the model its conversation reached);
- `default` when no rule matched, or the classifier was not confident enough for any row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from extproc.routing.classifier import Prediction
from extproc.routing.facts import RequestFacts, holds
from extproc.routing.policy import Arm, Classify, RoutingPolicy, Rule, Split

DEFAULT_REASON = "default"
# Where the task and complexity a table row used came from.
FROM_CLASSIFIER, FROM_REQUEST, FROM_CONVERSATION = "classifier", "task_type", "conversation"


class Classifies(Protocol):
    """What routing needs of the classifier (`classifier.Classifier`)."""

    def classify(self, messages: Sequence[Any]) -> Prediction:
        """The task and complexity of a request's last user turn."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """The model a policy picked for one request, and why."""

    model: str
    reason: str
    # The virtual model whose policy decided.
    policy: str = ""
    # The entry that decided (None: the default, with no entry matching).
    rule: str | None = None
    arm: str | None = None
    # What the classifier table used, when it ran (the task may be the body's, the complexity the
    # conversation's), and how sure it was of each.
    task: str | None = None
    task_confidence: float | None = None
    complexity: str | None = None
    complexity_confidence: float | None = None
    # The classifier found this request complex, above the table's floor: its conversation keeps that.
    reached_complex: bool = False
    # A client's `models` list, in the order Envoy walks it (empty: a policy decided).
    fallback_list: tuple[str, ...] = ()

    @property
    def classified(self) -> bool:
        """True when the classifier ran for this request."""
        return self.complexity is not None


def decide(
    policy: RoutingPolicy,
    facts: RequestFacts,
    messages: Sequence[Any],
    classifier: Classifies | None,
    conversation_complex: bool = False,
) -> Decision:
    """The model `policy` picks for a request (`classifier` must be given when the policy classifies)."""
    for rule in policy.rules:
        if not holds(rule.when, facts):
            continue
        if rule.model is not None:
            return Decision(rule.model, rule.name, policy.name, rule.name)
        if rule.split is not None:
            arm = split_arm(rule.split, sticky_key(rule.split, facts), f"{policy.name}/{rule.name}")
            return Decision(arm.model, f"{rule.name}/{arm.name}", policy.name, rule.name, arm=arm.name)
        assert rule.classify is not None and classifier is not None, "a classifying policy loads the classifier"
        return _classified(policy, rule, rule.classify, classifier.classify(messages), facts.task, conversation_complex)
    return Decision(policy.default, DEFAULT_REASON, policy.name)


def _classified(
    policy: RoutingPolicy, rule: Rule, table: Classify, prediction: Prediction, task: str | None, kept_complex: bool
) -> Decision:
    """The first table row the request's task and complexity fit with enough confidence, else the default."""
    task_source = FROM_REQUEST if task is not None else FROM_CLASSIFIER
    task_confidence = 1.0 if task is not None else prediction.task_confidence
    task = task or prediction.task
    complexity, complexity_confidence = prediction.complexity, prediction.complexity_confidence
    complexity_source = FROM_CLASSIFIER
    if kept_complex and not (complexity == "complex" and complexity_confidence >= table.min_confidence):
        complexity, complexity_confidence, complexity_source = "complex", 1.0, FROM_CONVERSATION
    floor = table.min_confidence
    reached = complexity_source == FROM_CLASSIFIER and complexity == "complex" and complexity_confidence >= floor
    for row in table.table:
        if row.task is not None and (row.task != task or task_confidence < floor):
            continue
        if row.complexity is not None and (row.complexity != complexity or complexity_confidence < floor):
            continue
        # The most explicit source that the row relied on names the reason.
        if row.complexity is not None and complexity_source == FROM_CONVERSATION:
            reason = FROM_CONVERSATION
        elif row.task is not None and task_source == FROM_REQUEST:
            reason = FROM_REQUEST
        else:
            reason = FROM_CLASSIFIER
        return Decision(row.model, reason, policy.name, rule.name, None, task, task_confidence, complexity,
                        complexity_confidence, reached)  # fmt: skip
    return Decision(policy.default, DEFAULT_REASON, policy.name, rule.name, None, task, task_confidence, complexity,
                    complexity_confidence, reached)  # fmt: skip


def sticky_key(split: Split, facts: RequestFacts) -> str:
    """Who the caller is, for a split: the sticky header's value, else the body's `user`, else the API key."""
    caller = facts.headers.get(split.sticky_header) if split.sticky_header else None
    caller = caller or facts.user or facts.key_id or ""
    return f"{facts.tenant}\x00{caller}"


def split_arm(split: Split, key: str, salt: str) -> Arm:
    """The arm of `split` for a caller `key`: a hash of the key (salted by the experiment, so that two
    splits divide callers independently) placed on the arms' cumulative weights."""
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") / 2**64 * 100.0
    cumulative = 0.0
    for arm in split.arms:
        cumulative += arm.weight
        if point < cumulative:
            return arm
    return split.arms[-1]
