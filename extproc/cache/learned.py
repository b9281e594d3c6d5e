"""The learned semantic-cache decision: for the nearest cached entry at a similarity, hit, explore or
miss, so that a route's share of wrong cached answers stays under its `max_error_rate`.

Adapted from vCache (Schroeder et al., "vCache: Verified Semantic Prompt Caching", arXiv
2502.03771); docs/adr/0008-semantic-cache-error-bound.md says what was kept, what changed and why.
In short:

- What is learned is the chance that an entry's answer is right for a new prompt at similarity s,
  from labels: an explored request's fresh answer compared with the cached one says whether a hit
  would have been right (`Label`).
- The route learns a curve from all its labels (`Calibration`: right and wrong counts per
  similarity bin, read as a lower bound that uses only the labels at or below s, since the share
  of right answers rises with similarity). Each entry starts from that curve and moves it with
  its own labels: a right answer at a similarity at or below s counts for it, a wrong one at or
  above s against it (the curve rises with similarity, so those are the labels that speak about s).
- The chance is taken at a lower confidence bound (`CONFIDENCE_Z` standard deviations under the
  mean), so that thin evidence counts as risk.
- Whether a hit may be served is the error budget's call (`budget.py`): a route earns
  `max_error_rate` per lookup and each hit spends its risk (1 - chance). A hit whose risk is above
  `MAX_HIT_RISK`, or that the budget does not cover, is explored instead when the candidate may
  well be right, else it is a miss.

Plain values in and out: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

# The calibration's similarity bins: [0.50, 0.52), ..., [0.98, 1.00]; lower similarities share the first.
BIN_LOW = 0.50
BIN_WIDTH = 0.02
BINS = 25
# Jeffreys' prior on the counts: a route without labels reads as a coin flip, not as certainty.
PRIOR_RIGHT = PRIOR_WRONG = 0.5
# How many labels the route's curve is worth against an entry's own labels.
ROUTE_WEIGHT = 2.0
# The chance a hit is right is read this many standard deviations under its mean (one-sided 97.7%).
CONFIDENCE_Z = 2.0
# A single hit is never served with a higher chance of being wrong, however rich the budget.
MAX_HIT_RISK = 0.2
# A candidate less likely right than this is not worth a label: a plain miss.
MIN_EXPLORE_CHANCE = 0.2
# Labels kept per entry (the latest).
MAX_LABELS = 32

Action = Literal["hit", "explore", "miss"]


@dataclass(frozen=True, slots=True)
class Label:
    """What one exploration taught: at this similarity, the cached answer was right or wrong."""

    similarity: float
    right: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a candidate, and the chance its answer is wrong for this prompt."""

    action: Action
    risk: float


class Calibration:
    """A route's labels counted per similarity bin: the share of right answers by similarity."""

    __slots__ = ("right", "wrong")

    def __init__(self, right: Sequence[int] = (), wrong: Sequence[int] = ()) -> None:
        self.right = list(right) + [0] * (BINS - len(right))
        self.wrong = list(wrong) + [0] * (BINS - len(wrong))

    @staticmethod
    def bin(similarity: float) -> int:
        """The bin of a similarity."""
        return min(BINS - 1, max(0, int((similarity - BIN_LOW) / BIN_WIDTH)))

    def add(self, label: Label) -> None:
        """Count one label."""
        counts = self.right if label.right else self.wrong
        counts[self.bin(label.similarity)] += 1

    @property
    def labels(self) -> int:
        """How many labels the route has."""
        return sum(self.right) + sum(self.wrong)

    def chance_right(self, similarity: float, z: float = CONFIDENCE_Z) -> float:
        """The share of right answers at `similarity`, `z` standard deviations under its mean.

        The curve rises with similarity, so labels at or below `similarity` can only understate
        the share there, and those above say nothing for a lower bound. Each window of bins that
        ends at this similarity's bin (its own bin alone, then widening downwards) gives a Beta
        posterior (the window's counts and the prior); the best-supported of them is the answer.
        An unlabelled region reads as the prior: a coin flip, widely uncertain.
        """
        best = 0.0
        right = wrong = 0
        for index in range(self.bin(similarity), -1, -1):
            right += self.right[index]
            wrong += self.wrong[index]
            a, b = right + PRIOR_RIGHT, wrong + PRIOR_WRONG
            spread = (a * b / ((a + b) ** 2 * (a + b + 1))) ** 0.5
            best = max(best, a / (a + b) - z * spread)
        return best


def chance_right(calibration: Calibration, labels: Iterable[Label], similarity: float, z: float = CONFIDENCE_Z) -> float:
    """The chance that the entry's answer is right at `similarity`: the route's curve, worth
    ROUTE_WEIGHT labels, moved by the entry's labels that speak about this similarity."""
    route = calibration.chance_right(similarity, z)
    labels = list(labels)
    right = sum(1 for label in labels if label.right and label.similarity <= similarity)
    wrong = sum(1 for label in labels if not label.right and label.similarity >= similarity)
    return (ROUTE_WEIGHT * route + right) / (ROUTE_WEIGHT + right + wrong)


def decide(
    calibration: Calibration,
    labels: Iterable[Label],
    similarity: float,
    *,
    affordable: float,
    may_explore: bool,
) -> Verdict:
    """Hit when the risk (1 - the conservative chance) is at most MAX_HIT_RISK and `affordable`
    (what the route's error budget holds); else explore when the candidate may well be right and
    exploring is allowed; else miss."""
    labels = list(labels)
    risk = 1.0 - chance_right(calibration, labels, similarity)
    if risk <= MAX_HIT_RISK and risk <= affordable:
        return Verdict("hit", risk)
    if may_explore and chance_right(calibration, labels, similarity, z=0.0) >= MIN_EXPLORE_CHANCE:
        return Verdict("explore", risk)
    return Verdict("miss", risk)
