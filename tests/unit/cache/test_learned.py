"""The learned semantic-cache decision, its budgets and its labels: it hits only when the bound is
met, learns to hit from right labels, stops hitting after a wrong one, and keeps a stream's share of
wrong answers under the bound."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from extproc.cache.budget import HORIZON, RouteBudget
from extproc.cache.labels import answer_text, same_answer
from extproc.cache.learned import MAX_HIT_RISK, Calibration, Label, chance_right, decide


def calibration(right_at: dict[float, int], wrong_at: dict[float, int] | None = None) -> Calibration:
    found = Calibration()
    for similarity, count in right_at.items():
        for _ in range(count):
            found.add(Label(similarity, True))
    for similarity, count in (wrong_at or {}).items():
        for _ in range(count):
            found.add(Label(similarity, False))
    return found


def test_a_cold_route_explores_and_never_hits() -> None:
    verdict = decide(Calibration(), [], 0.99, affordable=1.0, may_explore=True)
    assert verdict.action == "explore" and verdict.risk > MAX_HIT_RISK


def test_it_hits_only_when_the_risk_is_small_and_the_budget_covers_it() -> None:
    warm = calibration({0.95: 60}, {0.95: 1})
    risk = 1 - chance_right(warm, [], 0.95)
    assert 0 < risk <= MAX_HIT_RISK
    assert decide(warm, [], 0.95, affordable=risk, may_explore=True).action == "hit"
    assert decide(warm, [], 0.95, affordable=risk * 0.9, may_explore=True).action == "explore"
    assert decide(warm, [], 0.95, affordable=risk * 0.9, may_explore=False).action == "miss"
    # However rich the budget, a hit that is too likely wrong is not served.
    shaky = calibration({0.95: 6}, {0.95: 4})
    assert decide(shaky, [], 0.95, affordable=100.0, may_explore=True).action == "explore"


def test_an_entry_explored_with_right_labels_starts_to_hit() -> None:
    route = calibration({0.9: 8, 0.94: 8}, {0.9: 2, 0.94: 1})
    labels: list[Label] = []
    actions = []
    for similarity in (0.90, 0.91, 0.92, 0.93, 0.94):
        verdict = decide(route, labels, 0.95, affordable=1.0, may_explore=True)
        actions.append(verdict.action)
        if verdict.action == "explore":
            labels.append(Label(similarity, True))
    assert actions[0] == "explore" and actions[-1] == "hit", actions
    # Right answers at a higher similarity say nothing about a lower one.
    assert chance_right(route, [Label(0.99, True)] * 5, 0.9) == chance_right(route, [], 0.9)


def test_a_near_miss_found_wrong_does_not_hit_again() -> None:
    route = calibration({0.9: 40, 0.96: 40}, {0.9: 1})
    assert decide(route, [], 0.93, affordable=1.0, may_explore=True).action == "hit"
    wrong = [Label(0.93, False)]
    for similarity in (0.93, 0.92, 0.85):
        assert decide(route, wrong, similarity, affordable=1.0, may_explore=True).action != "hit", similarity


def test_the_route_curve_reads_the_labels_at_or_below_a_similarity() -> None:
    route = calibration({0.80: 20}, {0.95: 3})
    # Right answers at 0.80 support 0.90 (the share rises with similarity) ...
    assert route.chance_right(0.90) > 0.8
    # ... but not 0.70, and wrong answers at 0.95 weigh on 0.95, not on 0.90.
    assert route.chance_right(0.70) == Calibration().chance_right(0.70) == 0.0
    assert route.chance_right(0.95) < route.chance_right(0.90)
    # More evidence, a narrower bound: the conservative chance approaches the mean.
    few, many = calibration({0.95: 5}), calibration({0.95: 500})
    assert few.chance_right(0.95) < many.chance_right(0.95) < many.chance_right(0.95, z=0.0)


def test_the_budgets_fill_per_lookup_and_are_bounded() -> None:
    budget = RouteBudget(max_error_rate=0.01, max_exploration_rate=0.25)
    assert not budget.may_explore and budget.errors == 0
    explored = 0
    for _ in range(400):
        budget.looked_up()
        if budget.may_explore:
            budget.spend_exploration()
            explored += 1
    assert explored == 100
    for _ in range(10 * HORIZON):
        budget.looked_up()
    assert budget.errors == pytest.approx(0.01 * HORIZON)


def test_a_stream_keeps_its_share_of_wrong_answers_under_the_bound() -> None:
    """Entries whose answers are right for most nearby prompts, some of them never: the share of
    requests answered wrongly stays under max_error_rate, and many requests still hit."""
    rng = random.Random(7)
    bound = 0.02
    route, budget = Calibration(), RouteBudget(bound, 0.5)
    entries = [{"threshold": rng.uniform(0.8, 1.05), "labels": []} for _ in range(40)]
    wrong = hits = 0
    requests = 6000
    for _ in range(requests):
        budget.looked_up()
        entry = entries[rng.randrange(len(entries))]
        similarity = rng.uniform(0.75, 1.0)
        right = rng.random() < 1 / (1 + math.exp(-60 * (similarity - entry["threshold"])))
        verdict = decide(route, entry["labels"], similarity, affordable=budget.errors, may_explore=budget.may_explore)
        if verdict.action == "hit":
            budget.spend_risk(verdict.risk)
            hits += 1
            wrong += not right
        elif verdict.action == "explore":
            budget.spend_exploration()
            label = Label(similarity, right)
            entry["labels"].append(label)
            route.add(label)
    assert wrong / requests <= bound, (wrong, hits)
    assert hits / requests >= 0.1, hits


def test_answers_are_compared_exactly_or_by_meaning() -> None:
    from extproc.cache.embeddings import Embedder

    assert same_answer("Paris.", "  paris ", "exact")
    assert not same_answer("Paris", "The capital is Paris", "exact")
    embed = Embedder().embed
    assert same_answer("The capital of France is Paris.", "Paris is the capital of France.", "embedding", embed, 0.9)
    assert not same_answer("Boil it for 6 minutes.", "Kyoto is lovely in spring.", "embedding", embed, 0.9)
    assert answer_text({"choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]}) == "a\nb"
    assert answer_text({"choices": [{"message": {"content": None, "tool_calls": [{}]}}]}) is None


def test_labels_round_trip_through_the_calibration_bins() -> None:
    route = Calibration()
    for similarity in np.linspace(0.0, 1.0, 11):
        route.add(Label(float(similarity), True))
    assert route.labels == 11 and route.right[0] == 6 and route.right[-1] == 1
