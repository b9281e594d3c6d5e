"""Replay: the learned semantic cache against fixed thresholds, on one stream of requests.

The stream is built from grouped queries (tests/data/semantic_cache_groups.jsonl: one cached
prompt, several queries labelled should_hit or not): every text of every group, each asked
`repeats` times, in a random order (seeded). Whatever text of a group comes first is cached first,
as in real traffic. Each text has an answer class: the cached prompt and its paraphrases share
one, every near miss has its own. A cached answer served to a text of another class is a wrong
answer (the labels an exploration gets here are these classes: exact, like vCache's benchmark).

Both caches run the gateway's logic on the same stream: the exact cache first (a repeated text
gets its own answer back), then the nearest entry that no guard refuses. Fixed: a hit at or above
the threshold. Learned: `extproc.cache.learned.decide` within a `RouteBudget`; an exploration
labels the entry and the calibration and, when the label is wrong, indexes the text. A miss
indexes the text. Every request that is not a hit stores its exact answer.

Printed per cache: the error rate (wrong answers / requests), the hit rate (hits / requests, exact
ones included), the semantic hit rate, and for the learned cache the exploration cost (explored
requests / requests); mean and worst over the seeds. Then, per error bound, the learned cache
beside the fixed threshold with the most hits whose worst seed meets the bound.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extproc.cache.budget import RouteBudget
from extproc.cache.embeddings import Embedder
from extproc.cache.guards import refusals
from extproc.cache.learned import MAX_LABELS, Calibration, Label, decide

GROUPS = Path(__file__).resolve().parent.parent / "tests" / "data" / "semantic_cache_groups.jsonl"
THRESHOLDS = [round(0.80 + 0.01 * i, 2) for i in range(20)]
BOUNDS = (0.005, 0.01, 0.02)
# The gateway's defaults (cache.max_exploration_rate) and its search width.
MAX_EXPLORATION_RATE = 0.25
CANDIDATES = 5


@dataclass
class _Entry:
    prompt: str
    answer: tuple[str, int]
    vector: np.ndarray
    labels: list[Label] = field(default_factory=list)


@dataclass
class Outcome:
    """What one cache did with one stream."""

    requests: int = 0
    hits: int = 0
    semantic_hits: int = 0
    wrong: int = 0
    explored: int = 0

    @property
    def error_rate(self) -> float:
        return self.wrong / self.requests

    @property
    def hit_rate(self) -> float:
        return self.hits / self.requests

    @property
    def semantic_hit_rate(self) -> float:
        return self.semantic_hits / self.requests

    @property
    def exploration(self) -> float:
        return self.explored / self.requests


def load_groups(path: Path) -> list[dict[str, Any]]:
    """The groups of a grouped file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stream(groups: list[dict[str, Any]], repeats: int, seed: int) -> list[tuple[str, tuple[str, int]]]:
    """Every text with its answer class, `repeats` times, shuffled."""
    items = []
    for group in groups:
        items.append((group["cached"], (group["id"], 0)))
        for number, query in enumerate(group["queries"], 1):
            items.append((query["text"], (group["id"], 0 if query["should_hit"] else number)))
    items *= repeats
    random.Random(seed).shuffle(items)
    return items


def run(items: list[tuple[str, tuple[str, int]]], vectors: dict[str, np.ndarray], threshold: float | None,
        bound: float = 0.01) -> Outcome:  # fmt: skip
    """One cache over one stream: a fixed `threshold`, or learned (None) within `bound`."""
    outcome, exact, entries = Outcome(), set(), []
    calibration, budget = Calibration(), RouteBudget(bound, MAX_EXPLORATION_RATE)
    for text, answer in items:
        outcome.requests += 1
        budget.looked_up()
        if text in exact:
            outcome.hits += 1
            continue
        vector = vectors[text]
        action, nearest, similarity = "miss", None, 0.0
        if entries:
            similarities = np.stack([e.vector for e in entries]) @ vector
            for i in np.argsort(-similarities)[:CANDIDATES]:
                if threshold is not None and similarities[i] < threshold:
                    break
                if not refusals(entries[i].prompt, text):
                    nearest, similarity = entries[i], float(similarities[i])
                    break
        if nearest is not None and threshold is not None:
            action = "hit"
        elif nearest is not None:
            verdict = decide(calibration, nearest.labels, similarity, affordable=budget.errors, may_explore=budget.may_explore)
            action = verdict.action
            if action == "hit":
                budget.spend_risk(verdict.risk)
        if action == "hit":
            assert nearest is not None
            outcome.hits += 1
            outcome.semantic_hits += 1
            outcome.wrong += nearest.answer != answer
            continue
        exact.add(text)
        if action == "explore":
            assert nearest is not None
            budget.spend_exploration()
            outcome.explored += 1
            label = Label(similarity, nearest.answer == answer)
            nearest.labels = [*nearest.labels, label][-MAX_LABELS:]
            calibration.add(label)
            if label.right:
                continue
            # A wrong answer either way: the new entry starts knowing it too.
            entries.append(_Entry(text, answer, vector, [label]))
            continue
        entries.append(_Entry(text, answer, vector))
    return outcome


def replay(path: Path, embedder: Embedder, seeds: int = 10, repeats: int = 3) -> None:
    """Print the fixed thresholds' and the learned cache's figures on `seeds` streams of `path`."""
    groups = load_groups(path)
    texts = sorted({g["cached"] for g in groups} | {q["text"] for g in groups for q in g["queries"]})
    vectors = dict(zip(texts, embedder.embed(texts)))
    streams = [stream(groups, repeats, seed) for seed in range(1, seeds + 1)]
    queries = sum(len(g["queries"]) for g in groups)
    print(f"{path.name}: {len(groups)} groups, {queries} queries, {len(streams[0])} requests per stream "
          f"(each text {repeats} times), {seeds} seeds")  # fmt: skip
    fixed = {t: [run(items, vectors, t) for items in streams] for t in THRESHOLDS}
    print(f"\n{'fixed threshold':>15}{'error rate mean/worst':>24}{'hit rate':>10}{'semantic hits':>15}")
    for threshold, outcomes in fixed.items():
        print(f"{threshold:>15.2f}{_pair(outcomes, 'error_rate'):>24}{_mean(outcomes, 'hit_rate'):>10.3f}"
              f"{_mean(outcomes, 'semantic_hit_rate'):>15.3f}")  # fmt: skip
    print(f"\n{'bound':>6}{'cache':>18}{'error rate mean/worst':>24}{'hit rate':>10}{'semantic hits':>15}{'explored':>10}")
    for bound in BOUNDS:
        learned = [run(items, vectors, None, bound) for items in streams]
        meeting = [t for t, outcomes in fixed.items() if max(o.error_rate for o in outcomes) <= bound]
        best = max(meeting, key=lambda t: _mean(fixed[t], "hit_rate"), default=None)
        rows: list[tuple[str, list[Outcome]]] = [("learned", learned)]
        rows.append((f"fixed {best:.2f}", fixed[best]) if best is not None else ("fixed: none meets it", []))
        for name, outcomes in rows:
            if not outcomes:
                print(f"{bound:>6.3f}{name:>18}")
                continue
            explored = f"{_mean(outcomes, 'exploration'):.3f}" if name == "learned" else "-"
            print(f"{bound:>6.3f}{name:>18}{_pair(outcomes, 'error_rate'):>24}{_mean(outcomes, 'hit_rate'):>10.3f}"
                  f"{_mean(outcomes, 'semantic_hit_rate'):>15.3f}{explored:>10}")  # fmt: skip


def _mean(outcomes: list[Outcome], name: str) -> float:
    return statistics.fmean(getattr(o, name) for o in outcomes)


def _pair(outcomes: list[Outcome], name: str) -> str:
    return f"{_mean(outcomes, name):.4f} / {max(getattr(o, name) for o in outcomes):.4f}"
